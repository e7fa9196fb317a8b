"""The bound on decoded data: a small file may declare a huge array (a compressed ``.npz`` member, a
gzip'ed IDX file, a folder of images at the pixel limit each), so the declared size is checked
against :data:`MAX_DATA_BYTES` before anything is allocated."""

from __future__ import annotations

from aekit.errors import DataError

__all__ = ["MAX_DATA_BYTES", "check_decoded_size"]

#: Default limit on the bytes data may decode to (2 GiB); ``max_bytes=`` / ``--max-data-mib`` raise it.
MAX_DATA_BYTES = 2 << 30


def check_decoded_size(declared: int, limit: int, what: str) -> None:
    """Refuse ``what`` when it declares more than ``limit`` bytes of decoded data (before decoding).

    Raises
    ------
    DataError
        Naming the declared size, the limit and the option that raises it.
    """
    if declared > limit:
        raise DataError(
            f"{what} decodes to {declared} bytes ({declared / 2**20:.0f} MiB), over the limit of "
            f"{limit} bytes ({limit / 2**20:.0f} MiB): if you trust it, raise the limit with "
            "--max-data-mib (max_bytes= in Python)"
        )

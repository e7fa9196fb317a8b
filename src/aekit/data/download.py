"""Download data files with checksums, atomically, using only the standard library."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from aekit.errors import DataError

__all__ = [
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "default_data_dir",
    "download",
    "fetch_mnist",
    "md5sum",
    "verify_md5",
]

log = logging.getLogger(__name__)

#: The four MNIST files and their md5 sums.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: Base URLs holding the MNIST files, tried in order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK = 1 << 20


def default_data_dir() -> Path:
    """Return the data directory: ``$AEKIT_DATA`` if set, else ``~/.cache/aekit``."""
    env = os.environ.get("AEKIT_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aekit"


def md5sum(path: str | os.PathLike) -> str:
    """Return the hex md5 digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: str | os.PathLike, md5: str) -> None:
    """Raise DataError unless the file at ``path`` has md5 digest ``md5``."""
    actual = md5sum(path)
    if actual != md5.lower():
        raise DataError(f"md5 mismatch for {str(path)!r}: expected {md5.lower()}, got {actual}")


def download(url: str, dest: str | os.PathLike, md5: str | None = None, *, timeout: float = 30) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its md5 if given.

    The data is streamed into a temporary file next to ``dest`` and moved into
    place with :func:`os.replace` only once complete and verified, so a failed
    or corrupt download leaves nothing behind.

    Parameters
    ----------
    url : str
        Any URL urllib opens (``https://``, ``http://``, ``file://``).
    dest : str or os.PathLike
        Destination file; its directory is created if needed.
    md5 : str, optional
        Expected hex md5 digest.
    timeout : float
        Socket timeout in seconds.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DataError
        If the md5 does not match (the message gives both sums).
    OSError
        If the URL cannot be read (``urllib.error.URLError`` is an OSError).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "aekit"})
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            while chunk := resp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if md5 is not None and digest.hexdigest() != md5.lower():
            raise DataError(f"md5 mismatch for {url}: expected {md5.lower()}, got {digest.hexdigest()}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600: a shared $AEKIT_DATA must stay readable
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def fetch_mnist(
    root: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    files: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Path:
    """Download the MNIST files missing from ``root``, trying mirrors in order.

    A file already present with the right md5 is kept; one with a wrong md5 is
    downloaded again.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory to fill; default ``default_data_dir() / "mnist"``.
    mirrors : sequence of str
        Base URLs, each holding every file; tried in order.
    files : mapping of str to str, optional
        File name -> md5; default :data:`MNIST_FILES`.
    timeout : float
        Socket timeout in seconds for each download.

    Returns
    -------
    pathlib.Path
        ``root``.

    Raises
    ------
    DataError
        If a file cannot be fetched from any mirror; the message lists each error.
    """
    root = Path(root) if root is not None else default_data_dir() / "mnist"
    files = MNIST_FILES if files is None else files
    for name, md5 in files.items():
        dest = root / name
        if dest.is_file() and md5sum(dest) == md5.lower():
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            log.info("downloading %s", url)
            try:
                download(url, dest, md5, timeout=timeout)
                break
            except (OSError, http.client.HTTPException, DataError) as exc:
                errors.append(f"  {url}: {exc}")
        else:
            tried = "\n".join(errors) or "  (no mirrors given)"
            raise DataError(f"could not download {name} into {str(root)!r}; tried:\n{tried}")
    return root

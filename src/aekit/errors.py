"""Exceptions raised by aekit.

Every user-facing error is a subclass of :class:`AekitError`. Errors about bad
input values also subclass :class:`ValueError`, so ``except ValueError`` keeps
working for code that does not know aekit.
"""


class AekitError(Exception):
    """Base class of every error aekit raises on purpose."""


class DataError(AekitError, ValueError):
    """Input data is malformed: wrong shape, non-finite, out of range, bad file."""


class CheckpointError(AekitError, ValueError):
    """A checkpoint directory is missing, truncated, corrupted or mismatched."""


class BitstreamError(AekitError, ValueError):
    """A compressed bitstream is corrupt, truncated, of another version or model."""


class TrainingError(AekitError, RuntimeError):
    """Training diverged (NaN or infinite loss) or cannot continue."""


def a_or_an(name: str) -> str:
    """``name`` with its indefinite article, for messages: ``"an Autoencoder"``, ``"a Codec"``."""
    return f"{'an' if name[:1].lower() in ('a', 'e', 'i', 'o', 'u') else 'a'} {name}"

"""Atomic files: a crash leaves either the old file or the new one, never half of one.

A file is written to a temporary file in the same directory, fsync'ed, then moved
over its target with ``os.replace`` (atomic on POSIX and Windows). Files that belong
together are written in a :func:`transaction`: all of them are replaced, back to back
with Ctrl-C held off, or none.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "transaction", "staged_path"]

_staging = threading.local()  # .pending: {final path: temporary file} inside a transaction, else absent


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically
    (inside a :func:`transaction`: when the outermost transaction ends without an error)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    staged = False
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp (and some writers) make 0600; use what open() would
        pending = getattr(_staging, "pending", None)
        if pending is None:
            os.replace(tmp, path)
        else:
            earlier = pending.pop(path.absolute(), None)  # written twice: the last one wins
            if earlier is not None:
                earlier.unlink(missing_ok=True)
            pending[path.absolute()] = tmp
            staged = True
    finally:
        if not staged:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Files written by :func:`atomic_path` inside replace their targets together when the block ends
    without an error, back to back with SIGINT held off (a Ctrl-C meanwhile is raised right after);
    on an error (a Ctrl-C included) none is replaced and the old files stay whole. Nested: the outermost
    transaction commits."""
    if getattr(_staging, "pending", None) is not None:
        yield
        return
    pending: dict[Path, Path] = {}
    _staging.pending = pending
    try:
        yield
    except BaseException:
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)
        raise
    finally:
        del _staging.pending
    _commit(pending)


def _commit(pending: dict[Path, Path]) -> None:
    caught = []
    held = threading.current_thread() is threading.main_thread()
    if held:
        previous = signal.signal(signal.SIGINT, lambda *received: caught.append(received))
    try:
        for path, tmp in pending.items():
            os.replace(tmp, path)
    finally:
        for tmp in pending.values():  # left over only if a replace failed
            tmp.unlink(missing_ok=True)
        if held:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught and callable(previous):
        previous(*caught[0])  # Python's own handler raises KeyboardInterrupt
    elif caught and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def staged_path(path: Path) -> Path:
    """Where the bytes of ``path`` are now: its temporary file while a transaction holds it back."""
    pending = getattr(_staging, "pending", None) or {}
    return pending.get(Path(path).absolute(), Path(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

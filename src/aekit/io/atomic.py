"""Atomic files: a crash leaves either the old file or the new one, never half of one.

A file is written to a temporary file in the same directory, fsync'ed, then moved
over its target with ``os.replace`` (atomic on POSIX and Windows). Files that belong
together are written in a :func:`transaction`, committed by ONE atomic step: their
temporary files are complete and fsync'ed, then a journal ``.aekit-commit.json``
naming each ``{target: temporary file}`` (and the files the transaction removes,
:func:`remove`) replaces whatever journal was there (the commit point), then the
temporary files are moved over their targets, the removed files unlinked and the
journal removed. A crash before the commit point leaves the old files (the stray
temporary files are ignored); a crash after it leaves a journal that the next
reader or writer rolls forward (:func:`recover`), and until then
:func:`staged_path` finds each file's new bytes. The states of a directory:

- no journal: every file is whole, old or new (the usual state);
- a journal: the transaction it names is committed; a target whose temporary file
  still exists has its new bytes in that temporary file, and a file it removes is gone
  for :func:`staged_path`'s readers even while it is still there.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import CheckpointError

__all__ = ["atomic_path", "atomic_write_text", "remove", "transaction", "staged_path", "recover", "JOURNAL"]

JOURNAL = ".aekit-commit.json"  # a committed transaction not yet rolled forward:
# {"files": {target: temporary}, "remove": [name, ...]} ("remove" absent in journals of aekit before it)
_staging = threading.local()  # .pending: {final path: temporary file, or None to remove it} inside a
# transaction, else absent


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
            recover(path.parent)  # an older commit rolled forward first, so it cannot overwrite this file
            os.replace(tmp, path)
        else:
            _stage(pending, path, tmp)
            staged = True
    finally:
        if not staged:
            tmp.unlink(missing_ok=True)


def _stage(pending: dict[Path, Path | None], path: Path, tmp: Path | None) -> None:
    """Hold back ``path``'s new bytes (``tmp``) or its removal (None) until the commit."""
    earlier = pending.pop(path.absolute(), None)  # staged twice: the last one wins
    if earlier is not None:
        earlier.unlink(missing_ok=True)
    pending[path.absolute()] = tmp


def remove(path: str | os.PathLike) -> None:
    """Remove ``path`` if it exists; inside a :func:`transaction`, as part of its commit (the old file
    stays until the commit point, and is gone after it, whatever crashes in between)."""
    path = Path(path)
    pending = getattr(_staging, "pending", None)
    if pending is None:
        recover(path.parent)
        path.unlink(missing_ok=True)
    elif path.exists() or path.absolute() in pending:
        _stage(pending, path, None)


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Files written by :func:`atomic_path` inside replace their targets together when the block ends
    without an error, in one atomic commit with SIGINT held off (a Ctrl-C meanwhile is raised right
    after); on an error before the commit (a Ctrl-C included) none is replaced and the old files stay
    whole. Nested: the outermost transaction commits. The journal makes the commit atomic for files in one
    directory (every checkpoint); files in several directories are replaced one after the other."""
    if getattr(_staging, "pending", None) is not None:
        yield
        return
    pending: dict[Path, Path | None] = {}
    _staging.pending = pending
    try:
        yield
    except BaseException:
        _discard(pending)
        raise
    finally:
        del _staging.pending
    _held_off_sigint(_commit, pending)


def _discard(pending: dict[Path, Path | None]) -> None:
    for tmp in pending.values():
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _held_off_sigint(
    commit: Callable[[dict[Path, Path | None]], None], pending: dict[Path, Path | None]
) -> None:
    """``commit(pending)`` with SIGINT held off (main thread only); a Ctrl-C meanwhile is raised after."""
    caught = []
    held = threading.current_thread() is threading.main_thread()
    if held:
        previous = signal.signal(signal.SIGINT, lambda *received: caught.append(received))
    try:
        commit(pending)
    finally:
        if held:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught and callable(previous):
        previous(*caught[0])  # Python's own handler raises KeyboardInterrupt
    elif caught and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def _commit(pending: dict[Path, Path | None]) -> None:
    """Replace every target of ``pending`` by its temporary file (or remove it), in one atomic step
    (the journal)."""
    if not pending:
        return
    directories = {path.parent for path in pending}
    if len(pending) == 1 or len(directories) > 1:  # one file: os.replace is the atomic step
        _replace_each(pending)
        return
    directory = directories.pop()
    committed = False
    try:
        recover(directory)  # an earlier commit left half-done: finish it before this one
        doc: dict = {
            "files": {path.name: tmp.name for path, tmp in pending.items() if tmp is not None},
            "remove": [path.name for path, tmp in pending.items() if tmp is None],
        }
        fd, name = tempfile.mkstemp(prefix=f"{JOURNAL}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(doc))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(name, directory / JOURNAL)  # the commit point
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        committed = True
        _fsync_directory(directory)
        _roll_forward(directory, doc["files"], doc["remove"])
        _sweep(directory, [JOURNAL, *(f".{name}" for name in doc["files"])])
    finally:
        if not committed:  # before the commit point: the old files stay, the new ones go
            _discard(pending)


def _replace_each(pending: dict[Path, Path | None]) -> None:
    try:
        for path, tmp in pending.items():
            if tmp is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(tmp, path)
    finally:
        _discard(pending)  # left over only if a replace failed


def _roll_forward(directory: Path, names: dict[str, str], removed: list[str]) -> None:
    """Move each committed temporary file over its target, remove the removed files, then drop the journal."""
    for target, tmp in names.items():
        with contextlib.suppress(FileNotFoundError):  # moved already (by an earlier roll-forward)
            os.replace(directory / tmp, directory / target)
    for name in removed:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / name)
    _fsync_directory(directory)
    os.unlink(directory / JOURNAL)


def _sweep(directory: Path, prefixes: list[str]) -> None:
    """Remove the temporary files ``PREFIX.XXXXXXXX.tmp`` that a crash before an earlier commit point
    left behind (one writer per directory: no other transaction's files are there)."""
    for prefix in prefixes:
        for stray in directory.glob(f"{glob.escape(prefix)}.*.tmp"):
            with contextlib.suppress(OSError):
                stray.unlink()


def _journal(directory: Path) -> tuple[dict[str, str], list[str]] | None:
    """``({target: temporary}, [removed])`` of the committed transaction in ``directory``, None when there
    is none."""
    path = Path(directory) / JOURNAL
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} (a commit journal) cannot be read: {err}") from None
    try:
        doc = json.loads(text)
        names, removed = doc["files"], doc.get("remove", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        names = removed = None
    plain = (
        isinstance(names, dict)
        and isinstance(removed, list)
        and all(isinstance(n, str) and _is_plain_name(n) for n in [*names, *names.values(), *removed])
    )
    if not plain:
        raise CheckpointError(
            f"{path} (a commit journal) is corrupted: expected {{'files': {{name: name}}, 'remove': [name]}}"
        )
    assert names is not None and removed is not None
    return names, removed


def _is_plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and os.sep not in name and "\0" not in name


def recover(directory: str | os.PathLike) -> None:
    """Finish the transaction committed in ``directory`` and not yet rolled forward (after a crash).

    A read-only directory is left as it is (:func:`staged_path` reads through the journal).
    """
    directory = Path(directory)
    journal = _journal(directory)
    if journal is None:
        return
    with contextlib.suppress(PermissionError, FileNotFoundError):
        _roll_forward(directory, *journal)


def staged_path(path: str | os.PathLike) -> Path:
    """Where the bytes of ``path`` are now: its temporary file while a transaction holds it back, or
    while a committed transaction waits to be rolled forward."""
    path = Path(path)
    pending = getattr(_staging, "pending", None) or {}
    staged = pending.get(path.absolute())
    if staged is not None:
        return staged
    journal = _journal(path.parent)
    if journal is None:
        return path
    names, removed = journal
    if path.name in names and (path.parent / names[path.name]).exists():
        return path.parent / names[path.name]
    if path.name in removed:  # committed as removed: its readers find nothing
        return path.parent / f"{path.name}.removed-by-{JOURNAL}"
    return path


def _fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

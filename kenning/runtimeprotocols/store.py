"""How the server keeps what hosts send: private files, replaced whole, never through a link.

Each file is written to a fresh name made by :func:`tempfile.mkstemp` (``O_EXCL``, mode
0600) beside its destination and renamed over it only when complete, so a file or link
planted at a predictable name (``model.onnx.partial``) is never opened, and a failed upload
leaves nothing behind. A file this replaces is moved aside to a fresh name too, never to a
predictable one, and nothing but a file or a link is ever moved: a folder at the
destination is a :class:`StorageError`, as is every error of the disk (full, too large, no
permission), so the server tells its host and goes on.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kenning.runtimeprotocols.spool import Spool
from kenning.utils.errors import ConfigurationError, KenningError

#: bytes from which a stream is written and hashed beside its arrival, in a thread
BESIDE_FROM = 8 << 20


class StorageError(KenningError):
    """What a host sent cannot be stored on the target.

    Parameters
    ----------
    path : Path
        Where it was to be stored.
    reason : str
        What went wrong: the system's error, or what stands at ``path``.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot store {path}: {reason}")


@contextmanager
def _storing(path: Path) -> Iterator[None]:
    """Turn the system's errors while storing ``path`` into a :class:`StorageError`."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise StorageError(path, f"{exc.strerror or exc}{where}") from exc


def check_destination(path: Path) -> None:
    """Refuse a ``--save-model-path`` that cannot be a file, before serving.

    Raises
    ------
    ConfigurationError
        If ``path`` is a folder (or a link to one).
    """
    if path.is_dir():
        raise ConfigurationError(
            f"--save-model-path {path} is a folder; name the file the model is saved as, "
            f"e.g. {path / ('model' + (path.suffix or '.bin'))}"
        )


def _refuse_folder(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise StorageError(path, "a folder is there (the model file's place); nothing was moved")


def _fresh(path: Path, suffix: str = ".partial") -> tuple[int, Path]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    return fd, Path(name)


def store_bytes(path: Path, data: bytes | bytearray) -> None:
    """Write ``data`` to ``path`` through a private temporary file.

    Raises
    ------
    StorageError
        If a folder is at ``path``, or the disk fails.
    """
    with _storing(path):
        _refuse_folder(path)
        fd, partial = _fresh(path)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)


def store_stream(
    path: Path, chunks: Iterable[memoryview], keep: bool = False, size: int = 0
) -> tuple[str, Path | None]:
    """Write ``chunks`` to ``path`` through a private temporary file.

    From :data:`BESIDE_FROM` bytes (``size``), a thread writes and hashes each chunk while the
    next one arrives (:class:`~kenning.runtimeprotocols.spool.Spool`).

    Parameters
    ----------
    path : Path
        Destination.
    chunks : iterable of memoryview
        The bytes; an exception while iterating leaves ``path`` as it was. When the disk
        fails, the iteration stops where it was: the caller may consume the rest.
    keep : bool
        Move the file previously at ``path`` to a fresh name (freed later by the caller:
        freeing a large file is slow) rather than replacing it.
    size : int
        How many bytes are coming, when known.

    Returns
    -------
    tuple
        The SHA-256 of the bytes, and where the previous file went (``None``: none kept).

    Raises
    ------
    StorageError
        If a folder is at ``path``, or the disk fails; ``path`` is left as it was.
    """
    digest = hashlib.sha256()
    previous = None
    with _storing(path):
        _refuse_folder(path)
        fd, partial = _fresh(path)
        try:
            with os.fdopen(fd, "wb") as out:
                if size >= BESIDE_FROM:
                    with Spool(out, digest, path) as spool:
                        for chunk in chunks:
                            spool.put(chunk)
                else:
                    for chunk in chunks:
                        out.write(chunk)
                        digest.update(chunk)
            _refuse_folder(path)  # one may have appeared meanwhile
            if keep and os.path.lexists(path):
                aside, previous = _fresh(path, ".previous")
                os.close(aside)
                os.replace(path, previous)  # over our own empty file, never a planted one
            try:
                os.replace(partial, path)
            except OSError:
                if previous is not None:
                    os.replace(previous, path)  # the old file goes back where it was
                raise
        finally:
            partial.unlink(missing_ok=True)
    return digest.hexdigest(), previous

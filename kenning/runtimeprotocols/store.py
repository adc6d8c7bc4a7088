"""How the server keeps what hosts send: private files, replaced whole, never through a link.

Each file is written to a fresh name made by :func:`tempfile.mkstemp` (``O_EXCL``, mode
0600) beside its destination and renamed over it only when complete, so a file or link
planted at a predictable name (``model.onnx.partial``) is never opened, and a failed upload
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kenning.utils.errors import ConfigurationError


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


def _fresh(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    return fd, Path(name)


def store_bytes(path: Path, data: bytes | bytearray) -> None:
    """Write ``data`` to ``path`` through a private temporary file."""
    fd, partial = _fresh(path)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def store_stream(path: Path, chunks: Iterable[memoryview], keep: Path | None = None) -> str:
    """Write ``chunks`` to ``path`` through a private temporary file; return their SHA-256.

    Parameters
    ----------
    path : Path
        Destination.
    chunks : iterable of memoryview
        The bytes; an exception while iterating leaves ``path`` as it was.
    keep : Path, optional
        Where the file previously at ``path`` is moved (freed later by the caller).
    """
    digest = hashlib.sha256()
    fd, partial = _fresh(path)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
        if keep is not None and path.exists():  # freeing a large old file is slow
            os.replace(path, keep)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return digest.hexdigest()

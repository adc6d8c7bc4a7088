"""A fresh secret for each run of a board's server, in a file only this user reads.

The server gets the secret on its standard input (``--secret-file -``), never on a command
line; the host's side of the handshake reads it from the file, which is made here with
``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 (never through a planted link, never reusing
a file), and removed when the run ends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kenning.executors.boarderrors import BoardError

#: the secret file's name in the run's local folder
SECRET_FILE = "secret"


@contextmanager
def run_secret(board: str, folder: Path) -> Iterator[tuple[str, Path]]:
    """Make ``folder/secret`` (mode 0600) holding a fresh secret; yield it and the path.

    Raises
    ------
    BoardError
        If the file cannot be made (something appeared at its path meanwhile).
    """
    secret = secrets.token_hex(32)
    path = folder / SECRET_FILE
    path.unlink(missing_ok=True)  # a killed run's; unlink never follows a link
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise BoardError(board, "writing the run's secret", f"{path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    try:
        yield secret, path
    finally:
        path.unlink(missing_ok=True)

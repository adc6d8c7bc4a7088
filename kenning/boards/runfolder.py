"""A run's private folder on a board, and files pushed into it checked by SHA-256 there.

Each run gets a new folder made by ``mktemp -d`` (mode 0700) in the board entry's
``workdir``, never a fixed path: a file planted where an earlier run kept its files (a
same-size zip, a half-written ``.partial``, a symbolic link named ``server.log``) is never
used, written through or followed. The workdir itself must belong to the SSH user (or root)
and be writable by nobody else (unless it is a sticky folder of root's, like ``/tmp``), or
someone else could swap the run's folder. Every pushed file is hashed on the board
(``sha256sum``) before it is used.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import shlex
from pathlib import Path
from typing import Any

from kenning.executors.boarderrors import BoardError
from kenning.utils.errors import KenningError

log = logging.getLogger("kenning.boards")

#: ``mktemp`` template of a run's folder, in the workdir
RUN_TEMPLATE = "run.XXXXXXXX"
_GROUP_OR_OTHER_WRITE = 0o022
_STICKY = 0o1000


def remote_path(path: str) -> str:
    """``path`` quoted for a POSIX shell, with a leading ``~`` left for the shell to expand."""
    if path == "~" or path.startswith("~/"):
        return '"$HOME"' + (shlex.quote(path[1:]) if path != "~" else "")
    return shlex.quote(path)


def make_run_folder(board: Any, workdir: str) -> str:
    """Make a private folder for one run in ``workdir`` (made if missing); return its path.

    Raises
    ------
    BoardError
        If the workdir belongs to another user or others may write it, or ``mktemp`` fails.
    """
    step = "preparing the work folder"
    where = remote_path(workdir)
    answer = board.output(f'mkdir -p -- {where} && stat -L -c "%u %a" -- {where} && id -u', step)
    words = answer.split()
    if len(words) != 3 or not all(w.isdigit() for w in words):
        raise BoardError(board.board, step, f"unexpected answer from stat and id: {answer!r}")
    owner, mode, me = int(words[0]), int(words[1], 8), int(words[2])
    if owner not in (me, 0):
        detail = f"workdir {workdir} belongs to uid {owner}, not to us (uid {me})"
        raise BoardError(board.board, step, f"{detail}: set `workdir:` to a folder of ours")
    if mode & _GROUP_OR_OTHER_WRITE and not (owner == 0 and mode & _STICKY):
        detail = f"workdir {workdir} may be written by other users (mode {mode:o})"
        raise BoardError(board.board, step, f"{detail}: `chmod go-w` it or choose another")
    folder = board.output(f"mktemp -d {where}/{RUN_TEMPLATE}", step).strip()
    if not folder.startswith("/") or "\n" in folder:
        raise BoardError(board.board, step, f"mktemp printed {folder!r}, not a folder")
    return folder


def remove_run_folder(board: Any, folder: str) -> None:
    """Remove a run's folder (a failure is logged: the error that matters is raised already)."""
    try:
        board.output(f"rm -rf -- {shlex.quote(folder)}", f"removing {folder}")
    except KenningError as exc:
        log.warning("board %s: could not remove %s: %s", board.board, folder, exc)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a local file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(board: Any, remote: str, expected: str) -> None:
    """Check on the board that ``remote`` has SHA-256 ``expected``.

    Raises
    ------
    BoardError
        If it differs (the file is removed), or ``sha256sum`` fails.
    """
    name = posixpath.basename(remote)
    step = f"checking {name}"
    words = board.output(f"sha256sum -- {shlex.quote(remote)}", step).split()
    found = words[0] if words else "nothing"
    if found != expected:
        board.output(f"rm -f -- {shlex.quote(remote)}", f"removing {name}")
        detail = f"its SHA-256 on the board is {found}, not {expected}"
        raise BoardError(board.board, step, f"{detail}: it changed on the way or after; not used")


def push_verified(board: Any, local: Path, remote: str) -> None:
    """Upload ``local`` to ``remote`` (in a run's folder), then check its SHA-256 there.

    Raises
    ------
    RemoteSpaceError
        If the board runs out of space.
    BoardError
        If the copy fails, or what arrived is not what was sent.
    """
    expected = sha256_of(local)
    board.upload(local, remote)
    verify_sha256(board, remote, expected)

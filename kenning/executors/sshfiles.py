"""Copying files to and from a board over SFTP, with progress bars.

A push that fails is looked at once more: when the board's filesystem has less room than the
file needs (OpenSSH's sftp-server reports ENOSPC as a bare "Failure"), the error says so with
the numbers, and the partial file is removed.
"""

from __future__ import annotations

import errno
import logging
import posixpath
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kenning.executors.boarderrors import BoardError, RemoteSpaceError
from kenning.executors.sshconnect import paramiko
from kenning.executors.sshtarget import SSHConnection
from kenning.utils.progress import progress

log = logging.getLogger("kenning.executors.ssh")


def free_bytes(board: SSHConnection, path: str) -> int:
    """Bytes free for an unprivileged user where ``path`` is (or would be) on the board.

    Raises
    ------
    BoardError
        If ``df`` fails or prints something unexpected.
    """
    step = f"checking free space at {path}"
    script = (
        f'p={shlex.quote(path)}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; '
        'df -Pk "$p" | tail -n 1'
    )
    fields = board.output(script, step).split()
    if len(fields) < 4 or not fields[3].isdigit():
        raise BoardError(board.board, step, f"unexpected df output: {' '.join(fields)}")
    return int(fields[3]) * 1024


def push(board: SSHConnection, local: Path, remote: str) -> None:
    """Copy ``local`` to ``remote``, making its folders (see :meth:`SSHExecutor.upload`).

    Raises
    ------
    RemoteSpaceError
        If the board runs out of space (the partial file is removed).
    BoardError
        If the copy fails otherwise.
    """
    local = Path(local)
    step = f"pushing {local.name}"
    if not local.is_file():
        raise BoardError(board.board, step, f"there is no local file {local}")
    size = local.stat().st_size
    parent = posixpath.dirname(remote)
    sftp = board.sftp(step)
    with progress(f"{step} to {board.board}", size) as advance, board.ssh_errors(step):
        try:
            _makedirs(sftp, parent)
        except OSError as exc:
            detail = f"cannot create {parent}: {exc.strerror or exc}"
            raise BoardError(board.board, step, detail) from exc
        try:
            # confirm: pipelined writes do not report ENOSPC; the size check afterwards does
            sftp.put(str(local), remote, callback=_advancer(advance), confirm=True)
        except OSError as exc:
            if not sftp.get_channel().get_transport().is_active():
                raise  # the connection is gone: ssh_errors says so
            try:
                sftp.remove(remote)
            except FileNotFoundError:
                pass  # nothing was written
            except (OSError, paramiko.SSHException) as cleanup:
                log.warning("board %s: partial %s left: %s", board.board, remote, cleanup)
            free = free_bytes(board, parent or ".")
            if exc.errno == errno.ENOSPC or free < size:
                raise RemoteSpaceError(board.board, step, remote, size, free) from exc
            raise BoardError(board.board, step, f"writing {remote} failed: {exc}") from exc
        except KeyboardInterrupt:
            board.output(f"rm -f -- {shlex.quote(remote)}", f"removing the partial {remote}")
            raise


def fetch(board: SSHConnection, remote: str, local: Path) -> None:
    """Copy ``remote`` from the board to ``local`` (see :meth:`SSHExecutor.download`).

    Raises
    ------
    BoardError
        If the remote file is missing or the copy fails.
    """
    local = Path(local)
    step = f"fetching {remote}"
    local.parent.mkdir(parents=True, exist_ok=True)
    sftp = board.sftp(step)
    with board.ssh_errors(step):
        try:
            size = sftp.stat(remote).st_size
        except FileNotFoundError as exc:
            raise BoardError(board.board, step, "no such file on the board") from exc
        with progress(f"{step} from {board.board}", size) as advance:
            sftp.get(remote, str(local), callback=_advancer(advance))


def _makedirs(sftp: Any, folder: str) -> None:
    """``mkdir -p`` over SFTP (a few round trips, where a command would start a session)."""
    if folder in ("", "/", ".") or _exists(sftp, folder):
        return
    _makedirs(sftp, posixpath.dirname(folder))
    try:
        sftp.mkdir(folder)
    except OSError:
        if not _exists(sftp, folder):  # made meanwhile by someone else is fine
            raise


def _exists(sftp: Any, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _advancer(advance: Callable[[int], None]) -> Callable[[int, int], None]:
    """Turn SFTP's (bytes so far, total) callbacks into steps of a progress bar."""
    done = [0]

    def moved(transferred: int, _total: int) -> None:
        advance(transferred - done[0])
        done[0] = transferred

    return moved

"""Copying files to and from a board over SFTP, with progress bars.

A push that fails is looked at once more: when the board's filesystem has less room than the
file needs (OpenSSH's sftp-server reports ENOSPC as a bare "Failure"), the error says so with
the numbers, and the partial file is removed.

Every copy has a deadline (by default :func:`~kenning.executors.ssh.channel.transfer_deadline`
of its size) and each SFTP request waits at most :data:`SFTP_STALL_S` of what remains; either
one crossed closes the SFTP session (the next use opens another) and raises
:class:`~kenning.executors.boarderrors.BoardTimeoutError` naming the file.
"""

from __future__ import annotations

import errno
import logging
import posixpath
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kenning.executors.boarderrors import BoardError, BoardTimeoutError, RemoteSpaceError
from kenning.executors.ssh.channel import COMMAND_DEADLINE_S, transfer_deadline
from kenning.executors.ssh.connect import paramiko
from kenning.executors.ssh.target import SSHConnection
from kenning.utils.progress import progress

log = logging.getLogger("kenning.executors.ssh.executor")

#: seconds one SFTP request (a stat, an open, a write's acknowledgement) may go unanswered
SFTP_STALL_S = COMMAND_DEADLINE_S


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


def push(
    board: SSHConnection,
    local: Path,
    remote: str,
    *,
    timeout: float | None = None,
    stall_s: float = SFTP_STALL_S,
) -> None:
    """Copy ``local`` to ``remote``, making its folders (see :meth:`SSHExecutor.upload`).

    Parameters
    ----------
    board : SSHConnection
        The connected board.
    local : Path
        The file to copy.
    remote : str
        Where it goes on the board.
    timeout : float, optional
        Seconds for the whole copy (default: :func:`transfer_deadline` of its size).
    stall_s : float
        Seconds one SFTP request may go unanswered.

    Raises
    ------
    RemoteSpaceError
        If the board runs out of space (the partial file is removed).
    BoardTimeoutError
        If the copy or one request outlasts its time (naming the file).
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
    deadline_s = transfer_deadline(size) if timeout is None else timeout
    with (
        progress(f"{step} to {board.board}", size) as advance,
        board.ssh_errors(step),
        _bounded(
            board.board, step, sftp, f"{remote} ({size:,} bytes)", deadline_s, stall_s
        ) as clock,
    ):
        try:
            _makedirs(sftp, parent)
        except TimeoutError:
            raise  # _bounded names the file
        except OSError as exc:
            detail = f"cannot create {parent}: {exc.strerror or exc}"
            raise BoardError(board.board, step, detail) from exc
        try:
            # confirm: pipelined writes do not report ENOSPC; the size check afterwards does
            sftp.put(str(local), remote, callback=clock.advancer(advance), confirm=True)
        except TimeoutError:
            raise
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


def fetch(
    board: SSHConnection,
    remote: str,
    local: Path,
    *,
    timeout: float | None = None,
    stall_s: float = SFTP_STALL_S,
) -> None:
    """Copy ``remote`` from the board to ``local`` (see :meth:`SSHExecutor.download`).

    ``timeout`` and ``stall_s`` are as for :func:`push` (the size is the remote file's).

    Raises
    ------
    BoardTimeoutError
        If the copy or one request outlasts its time (naming the file).
    BoardError
        If the remote file is missing or the copy fails.
    """
    local = Path(local)
    step = f"fetching {remote}"
    local.parent.mkdir(parents=True, exist_ok=True)
    sftp = board.sftp(step)
    with board.ssh_errors(step):
        with _bounded(board.board, step, sftp, remote, None, stall_s):
            try:
                size = sftp.stat(remote).st_size
            except FileNotFoundError as exc:
                raise BoardError(board.board, step, "no such file on the board") from exc
        deadline_s = transfer_deadline(size) if timeout is None else timeout
        with (
            progress(f"{step} from {board.board}", size) as advance,
            _bounded(
                board.board, step, sftp, f"{remote} ({size:,} bytes)", deadline_s, stall_s
            ) as clock,
        ):
            sftp.get(remote, str(local), callback=clock.advancer(advance))


class _LateError(Exception):
    """The copy's deadline passed (raised from the progress callback, inside paramiko)."""


class _Clock:
    """One deadline for an SFTP copy; each request gets what remains, at most a stall limit."""

    def __init__(self, channel: Any, deadline_s: float | None, stall_s: float) -> None:
        self.channel = channel
        self.until = None if deadline_s is None else time.monotonic() + deadline_s
        self.stall_s = stall_s
        self.waited = stall_s
        self.done = 0
        self.before = channel.gettimeout()
        self.check()

    def check(self) -> None:
        """Give the next request what remains, at most ``stall_s`` (none left: _LateError)."""
        if self.until is not None:
            left = self.until - time.monotonic()
            if left <= 0:
                raise _LateError()
            self.waited = min(left, self.stall_s)
        self.channel.settimeout(self.waited)

    def late(self) -> bool:
        """Whether the deadline, not a stall, ended the wait."""
        return self.until is not None and self.waited < self.stall_s

    def advancer(self, advance: Callable[[int], None]) -> Callable[[int, int], None]:
        """SFTP's (bytes so far, total) callbacks: a step of the bar, then the deadline."""

        def moved(transferred: int, _total: int) -> None:
            advance(transferred - self.done)
            self.done = transferred
            self.check()

        return moved


@contextmanager
def _bounded(
    board: str, step: str, sftp: Any, what: str, deadline_s: float | None, stall_s: float
) -> Iterator[_Clock]:
    """Bound the SFTP requests in the block; a timeout becomes a BoardTimeoutError on ``what``."""
    clock = _Clock(sftp.get_channel(), deadline_s, stall_s)
    try:
        yield clock
    except (TimeoutError, _LateError) as exc:
        # a request left half-answered would garble the next: the next use opens a new session
        sftp.close()
        if isinstance(exc, _LateError) or clock.late():
            awaited = f"{what} was not all copied ({clock.done:,} bytes were)"
            raise BoardTimeoutError(board, step, awaited, deadline_s or 0.0) from exc
        awaited = f"the board's SFTP server gave no answer about {what}"
        raise BoardTimeoutError(board, step, awaited, clock.waited) from exc
    finally:
        clock.channel.settimeout(clock.before)


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

"""Errors of steps on boards: each names the board and the step, and carries a log tail."""

from __future__ import annotations

from collections.abc import Sequence

from kenning.executors.errors import STDERR_TAIL_LINES, ExecutionError, ExecutorError


class BoardError(ExecutorError):
    """A step on a board (over SSH) that failed; says the board and the step.

    Parameters
    ----------
    board : str
        The board's name (from the inventory, else its host).
    step : str
        What was being done, e.g. ``"connecting"``, ``"pushing model.tflite"``.
    detail : str
        What went wrong.
    log_tail : sequence of str
        The last lines of a relevant log (the server's), if any.
    """

    def __init__(self, board: str, step: str, detail: str, log_tail: Sequence[str] = ()) -> None:
        self.board = board
        self.step = step
        self.detail = detail
        self.log_tail = list(log_tail)[-STDERR_TAIL_LINES:]
        tail = "".join(f"\n    {line}" for line in self.log_tail)
        heading = "; its log ends:" if self.log_tail else ""
        super().__init__(f"board '{board}', {step}: {detail}{heading}{tail}")


class BoardUnreachableError(BoardError):
    """The board does not answer: name not resolved, connection refused or timed out, lost."""


class BoardTimeoutError(BoardError):
    """What was awaited from a board did not come by its deadline; the wait was given up.

    Parameters
    ----------
    board, step
        As for :class:`BoardError`.
    awaited : str
        What did not come, as a sentence's start: ``"`docker load` gave no exit status"``.
    timeout_s : float
        The deadline, in seconds from the start of the wait.
    log_tail : sequence of str
        What the command wrote to stderr meanwhile, if anything.
    """

    def __init__(
        self, board: str, step: str, awaited: str, timeout_s: float, log_tail: Sequence[str] = ()
    ) -> None:
        self.awaited = awaited
        self.timeout_s = timeout_s
        super().__init__(board, step, f"{awaited} within {timeout_s:g} s", log_tail)


class AuthenticationRefusedError(BoardError):
    """The board's sshd refused our keys (kenning never sends passwords).

    Parameters
    ----------
    board, step
        As for :class:`BoardError`.
    user : str
        The user we logged in as.
    key : str
        The key file offered, or a description (``"the ssh-agent's keys"``).
    detail : str
        What the server or the key loader said.
    """

    def __init__(self, board: str, step: str, user: str, key: str, detail: str) -> None:
        self.user = user
        self.key = key
        super().__init__(board, step, f"user '{user}' was refused with {key}: {detail}")


class HostKeyError(BoardError):
    """The board's host key is not known, or differs from the one recorded.

    Parameters
    ----------
    board, step
        As for :class:`BoardError`.
    entry : str
        The known_hosts name of the board (``host`` or ``[host]:port``).
    known_hosts : str
        The known_hosts file consulted.
    fingerprint : str
        The key the board presented (type and SHA256 fingerprint).
    changed : bool
        True when a different key is recorded for the board (a possible attack or a
        reinstalled board); False when none is.
    hint : str
        How to fix it (the command to run or the flag to pass).
    """

    def __init__(
        self,
        board: str,
        step: str,
        entry: str,
        known_hosts: str,
        fingerprint: str,
        changed: bool,
        hint: str,
    ) -> None:
        self.entry = entry
        self.known_hosts = known_hosts
        self.fingerprint = fingerprint
        self.changed = changed
        if changed:
            detail = (
                f"the host key of {entry} has CHANGED (it now presents {fingerprint}, "
                f"{known_hosts} records another): someone may be intercepting the connection, "
                f"or the board was reinstalled; {hint}"
            )
        else:
            detail = (
                f"the host key of {entry} ({fingerprint}) is unknown: it is not in "
                f"{known_hosts}; {hint}"
            )
        super().__init__(board, step, detail)


class RemoteSpaceError(BoardError):
    """No space left on the board while pushing a file.

    Parameters
    ----------
    board, step
        As for :class:`BoardError` (the step names the file).
    path : str
        The remote path being written.
    needed : int
        Bytes the file needs.
    free : int
        Bytes free on the board's filesystem holding ``path`` (after removing the
        partial file).
    """

    def __init__(self, board: str, step: str, path: str, needed: int, free: int) -> None:
        self.path = path
        self.needed = needed
        self.free = free
        super().__init__(
            board,
            step,
            f"no space left on the board for {path}: it needs {needed:,} bytes, "
            f"{free:,} are free there (the partial file was removed)",
        )


class RemoteCommandError(ExecutionError):
    """A command on a board exited non-zero.

    Parameters
    ----------
    board : str
        The board's name.
    command, exit_code, stderr_tail
        As for :class:`ExecutionError` (``exit_code`` is -1 when killed by a signal).
    step : str
        What the command was for.
    """

    def __init__(
        self,
        board: str,
        command: Sequence[str],
        exit_code: int,
        stderr_tail: Sequence[str],
        step: str = "running a command",
    ) -> None:
        self.board = board
        self.step = step
        super().__init__(command, exit_code, stderr_tail, f"on board '{board}' ({step})")

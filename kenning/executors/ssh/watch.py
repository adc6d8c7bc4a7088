"""Background processes that end with their SSH session: a shell watchdog holds the channel.

:func:`start_watched` runs :func:`watched_script` in a session channel of its own. The shell
starts the command in its own session (``setsid``), output to a log, prints the marker line
with the command's PID, then reads its standard input (the channel) until EOF. EOF comes when
we close our side (:meth:`WatchedProcess.stop`) or when the SSH connection dies (a crash, a
killed host, a lost network): either way the shell stops the command's process group (TERM,
then KILL after a grace period) and runs a hang-up command, e.g. ``docker rm -f NAME``.
Nothing started this way outlives the connection by more than the grace period.

A command may be given one line on its standard input (a secret, never on a command line):
the shell reads it from the channel with the ``read`` builtin and pipes it to the command
with the ``printf`` builtin, so it appears in no process's arguments.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kenning.executors.boarderrors import BoardError, BoardUnreachableError
from kenning.executors.ssh.process import (
    MARK,
    STOP_GRACE_S,
    RemoteProcess,
    Shell,
    env_prefix,
    stop_script,
)
from kenning.executors.ssh.target import SSHConnection

#: seconds the hang-up command gets after the grace period (``docker rm -f`` of a container)
HANGUP_S = 10.0


class WatchShell(SSHConnection, Shell, Protocol):
    """What :func:`start_watched` needs of a connection (the executor's public API)."""


def watched_script(
    argv: Sequence[str],
    log_path: str,
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    line: bool = False,
    on_hangup: Sequence[str] = (),
    grace: float = STOP_GRACE_S,
) -> str:
    """Shell: start ``argv`` (stdin: one line read from ours, else /dev/null), watch our stdin.

    When our standard input ends, the command's process group is stopped and ``on_hangup``
    run. Prints the marker line (``MARK`` PID folder) once the command is started.
    """
    log = shlex.quote(log_path)
    command = f"$S nohup {env_prefix(env)} {shlex.join(argv)} > {log} 2>&1"
    if line:  # `read` and `printf` are builtins: the line is in no process's arguments
        start = f"IFS= read -r l || exit 1; printf '%s\\n' \"$l\" | {command} & p=$!; l=; "
    else:
        start = f"{command} < /dev/null & p=$!; "
    hangup = f"{shlex.join(on_hangup)}; " if on_hangup else ""
    cd = f"cd {shlex.quote(workdir)} || exit 1; " if workdir else ""
    # the channel may be gone when the watchdog fires: it prints nothing after the marker
    return (
        f'{cd}mkdir -p "$(dirname {log})" || exit 1; S=; '
        "command -v setsid >/dev/null 2>&1 && S=setsid; "
        f"{start}"
        f"w() {{ exec >/dev/null 2>&1; {stop_script('$p', grace)}; {hangup}exit 0; }}; "
        "trap w HUP TERM; "
        f'echo "{MARK}$p $PWD"; '
        "while IFS= read -r _; do :; done; w"
    )


class WatchedProcess(RemoteProcess):
    """A process started by :func:`start_watched`; it ends when its channel closes.

    Parameters
    ----------
    board, pid, command, log_path
        As for :class:`~kenning.executors.ssh.process.RemoteProcess`.
    channel : paramiko.Channel
        The watchdog's session channel (closing it stops the process).
    """

    def __init__(
        self, board: WatchShell, pid: int, command: Sequence[str], log_path: str, channel: Any
    ) -> None:
        super().__init__(board, pid, command, log_path)
        self.watcher = board
        self.channel = channel

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Close the watchdog's channel: it stops the process and runs its hang-up command.

        Falls back to stopping the process by its PID when the watchdog does not finish.

        Raises
        ------
        BoardUnreachableError
            If the connection is gone (the board's watchdog stops the process by itself).
        BoardError
            If the board cannot be reached otherwise.
        """
        step = f"stopping pid {self.pid}"
        try:
            with self.watcher.ssh_errors(step):
                self.watcher.transport(step)  # raises if the connection is gone
                self.channel.shutdown_write()
                finished = self.channel.status_event.wait(grace + HANGUP_S)
            if not finished:
                super().stop(grace)
        finally:
            try:
                self.channel.close()
            except Exception:  # noqa: BLE001 - the transport died under the channel
                pass
            self.watcher.forget(self)


def check_line(data: bytes) -> None:
    """Refuse what is not one line ending in a newline (the watchdog reads exactly one).

    Raises
    ------
    ValueError
        If ``data`` holds no newline at its end, another newline, or a NUL byte.
    """
    if not data.endswith(b"\n") or b"\n" in data[:-1] or b"\0" in data:
        raise ValueError("stdin for a background process must be one line ending in '\\n'")


def start_watched(
    board: WatchShell,
    argv: Sequence[str],
    log_path: str,
    *,
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    on_hangup: Sequence[str] = (),
) -> WatchedProcess:
    """Start ``argv`` on the board under a watchdog (see the module's description).

    Raises
    ------
    ValueError
        If ``stdin`` is not one line (see :func:`check_line`).
    BoardError
        If the shell exits, or prints no PID within the connection timeout.
    """
    if stdin is not None:
        check_line(stdin)
    step = f"starting `{argv[0]}`"
    script = watched_script(
        argv, log_path, workdir, env, line=stdin is not None, on_hangup=on_hangup
    )
    timeout = board.target.connect_timeout
    with board.ssh_errors(step):
        channel = board.transport(step).open_session(timeout=timeout)
        try:
            channel.exec_command(script)
            if stdin is not None:
                channel.sendall(stdin)  # the channel stays open: the watchdog reads its EOF
            pid = _read_pid(board.board, step, channel, time.monotonic() + timeout)
        except BaseException:
            channel.close()
            raise
    return WatchedProcess(board, pid, argv, log_path, channel)


def _read_pid(board: str, step: str, channel: Any, deadline: float) -> int:
    """The PID on the marker line (lines before it come from the login shell's rc files)."""
    seen = b""
    while True:
        *lines, seen = seen.split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            pid = text.removeprefix(MARK).partition(" ")[0]
            if text.startswith(MARK) and pid.isdigit():
                return int(pid)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BoardUnreachableError(board, step, "the board printed no process id in time")
        channel.settimeout(remaining)
        try:
            data = channel.recv(4096)
        except TimeoutError:  # socket.timeout is TimeoutError
            continue
        if not data:
            channel.status_event.wait(max(0.0, deadline - time.monotonic()))
            code = channel.exit_status if channel.status_event.is_set() else "unknown"
            err = channel.recv_stderr(65536) if channel.recv_stderr_ready() else b""
            tail = err.decode(errors="replace").splitlines()
            raise BoardError(
                board, step, f"the shell exited (status {code}) before starting it", tail
            )
        seen += data

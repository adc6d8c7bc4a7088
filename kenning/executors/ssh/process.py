"""Processes on a board: the shell snippets that start, test and stop them, and their handles.

A command run over SSH is started by a POSIX shell that prints a marker line with its own PID
and folder, then ``exec``s the command: the PID is the command's, and (sshd starts each
session with ``setsid``) also its process group, so stopping it stops its children too.
Background processes are started with ``setsid`` for the same reason, under a watchdog that
ends them with their SSH session (:mod:`kenning.executors.ssh.watch`).
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping, Sequence
from typing import Protocol

from kenning.executors.base import OutputSink

#: seconds a stopped process gets to exit before it is killed
STOP_GRACE_S = 5.0
#: the first line the shell prints: this, its PID (the command's, after exec) and its folder
MARK = "kenning-pid:"


def env_prefix(env: Mapping[str, str] | None) -> str:
    """``env K=V ...`` with unbuffered Python (sshd usually refuses client variables)."""
    assigned = {"PYTHONUNBUFFERED": "1", **(env or {})}
    return "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in assigned.items())


def command_script(argv: Sequence[str], workdir: str | None, env: Mapping[str, str] | None) -> str:
    """Shell: go to ``workdir``, print the marker line, ``exec`` the command."""
    cd = f"cd {shlex.quote(workdir)} && " if workdir is not None else ""
    return f'{cd}echo "{MARK}$$ $PWD" && exec {env_prefix(env)} {shlex.join(argv)}'


def alive_test(pid: int | str) -> str:
    """Shell test: the process exists and is not a zombie (without /proc: it exists).

    ``pid`` is a number or a shell variable holding one (``"$p"``).
    """
    return f"{{ kill -0 {pid} 2>/dev/null && ! grep -qs '^State:.*Z' /proc/{pid}/status; }}"


def stop_script(pid: int | str, grace: float = STOP_GRACE_S) -> str:
    """Shell: TERM the process group (else the process), KILL it after ``grace`` seconds.

    ``pid`` is a number or a shell variable holding one (``"$p"``).
    """
    ticks = max(1, int(grace * 10))
    alive = alive_test(pid)
    return (
        f"kill -TERM -{pid} 2>/dev/null || kill -TERM {pid} 2>/dev/null; i=0; "
        f"while {alive} && [ $i -lt {ticks} ]; do sleep 0.1; i=$((i+1)); done; "
        f"if {alive}; then kill -KILL -{pid} 2>/dev/null || kill -KILL {pid}; fi; true"
    )


class Shell(Protocol):
    """What a :class:`RemoteProcess` needs from its executor."""

    def output(self, script: str, step: str) -> str: ...

    def forget(self, process: RemoteProcess) -> None: ...


class RemoteProcess:
    """A process started in the background on a board, its output going to a log file.

    Parameters
    ----------
    board : SSHExecutor
        The executor that started it.
    pid : int
        Its process ID on the board.
    command : sequence of str
        What it runs.
    log_path : str
        Its log file on the board (relative paths: to the folder it started in).
    """

    def __init__(self, board: Shell, pid: int, command: Sequence[str], log_path: str) -> None:
        self.board = board
        self.pid = pid
        self.command = list(command)
        self.log_path = log_path

    def alive(self) -> bool:
        """Whether the process still runs.

        Raises
        ------
        BoardError
            If the board cannot be asked.
        """
        answer = self.board.output(f"{alive_test(self.pid)} && echo yes || echo no", "checking")
        return answer.strip() == "yes"

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Send TERM to its process group, then KILL after ``grace`` seconds.

        Raises
        ------
        BoardError
            If the board cannot be reached.
        """
        self.board.output(stop_script(self.pid, grace), f"stopping pid {self.pid}")
        self.board.forget(self)

    def log_tail(self, n: int = 20) -> list[str]:
        """The last ``n`` lines of its log (empty when the log cannot be read).

        Raises
        ------
        BoardError
            If the board cannot be reached.
        """
        script = f"tail -n {int(n)} {shlex.quote(self.log_path)} 2>/dev/null || true"
        return self.board.output(script, f"reading {self.log_path}").splitlines()


class MarkedOutput:
    """A command's stdout, less the marker line the shell prints first (its PID and folder)."""

    def __init__(self, sink: OutputSink) -> None:
        self.sink = sink
        self.pid: int | None = None
        self.cwd: str | None = None
        self.started = threading.Event()
        self._head = b""

    def write(self, data: bytes) -> None:
        """Forward ``data``, taking the marker line out."""
        if self.started.is_set():
            self.sink.write(data)
            return
        self._head += data
        while not self.started.is_set() and b"\n" in self._head:
            line, self._head = self._head.split(b"\n", 1)
            text = line.decode(errors="replace")
            if text.startswith(MARK):  # lines before it come from the login shell's rc files
                pid, _, self.cwd = text.removeprefix(MARK).partition(" ")
                self.pid = int(pid) if pid.isdigit() else None
                self.started.set()
            else:
                self.sink.write(line + b"\n")
        if self.started.is_set() and self._head:
            self.sink.write(self._head)
            self._head = b""

    def flush(self) -> None:
        """Pass on what is left when the marker never came (the shell failed before it)."""
        if self._head:
            self.sink.write(self._head)
            self._head = b""

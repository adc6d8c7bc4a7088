"""Run steps on a board over SSH (paramiko): commands, files, a background server, tunnels.

The connection (host keys checked against known_hosts, keys only, never a password) is made
by :mod:`kenning.executors.ssh.connect`, where paramiko and socket exceptions become kenning
errors (:func:`~kenning.executors.ssh.connect.ssh_errors`); every command is run and waited
for under a deadline by :func:`kenning.executors.ssh.channel.run_command`; processes are handled
by :mod:`kenning.executors.ssh.process`, files by :mod:`kenning.executors.ssh.files`, ports
and tunnels by :mod:`kenning.executors.ssh.tunnel`.
Everything started on the board is stopped by :meth:`SSHExecutor.close`, which the
executor's context manager calls on success, on error and on Ctrl-C.
"""

from __future__ import annotations

import getpass
import logging
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

import kenning
from kenning.executors.base import ExecutionRecord, Executor, OutputSink, docker_arch
from kenning.executors.boarderrors import (
    BoardTimeoutError,
    BoardUnreachableError,
    RemoteCommandError,
)
from kenning.executors.errors import ExecutionTimeoutError
from kenning.executors.ssh import tunnel as sshtunnel
from kenning.executors.ssh.board import BoardSession
from kenning.executors.ssh.channel import COMMAND_DEADLINE_S, run_command
from kenning.executors.ssh.connect import connect, ssh_errors
from kenning.executors.ssh.process import (
    STOP_GRACE_S,
    MarkedOutput,
    RemoteProcess,
    command_script,
    stop_script,
)
from kenning.executors.ssh.target import TRUST_FLAG, SSHTarget
from kenning.utils.errors import KenningError
from kenning.utils.provenance import git_commit

__all__ = ["TRUST_FLAG", "RemoteProcess", "SSHExecutor"]

log = logging.getLogger("kenning.executors.ssh.executor")


class SSHExecutor(BoardSession, Executor):
    """Run commands on a board over SSH, with its own ``python``; the image is only recorded.

    Parameters
    ----------
    host : str
        Host name or address of the board.
    port : int
        Its SSH port.
    user : str, optional
        User to log in as (default: this user).
    key_filename : str or Path, optional
        Private key; None tries the ssh-agent and ``~/.ssh/id_*``.
    known_hosts : str or Path, optional
        The known_hosts file (default ``~/.ssh/known_hosts``).
    trust_unknown_host : bool
        Accept a host key that is not in ``known_hosts``, and record it there.
    board : str, optional
        The name used in every message (default: ``host``).
    connect_timeout : float
        Seconds to wait for the connection, the SSH banner, authentication and channels.
    python : str
        The board's Python; replaces a leading ``"python"`` in commands.

    Raises
    ------
    BoardUnreachableError, AuthenticationRefusedError, HostKeyError
        If the connection cannot be made (it is made here).
    """

    name: ClassVar[str] = "ssh"

    def __init__(
        self,
        host: str,
        *,
        port: int = 22,
        user: str | None = None,
        key_filename: str | Path | None = None,
        known_hosts: str | Path | None = None,
        trust_unknown_host: bool = False,
        board: str | None = None,
        connect_timeout: float = 10.0,
        python: str = "python3",
    ) -> None:
        self.target = SSHTarget(
            host=host,
            port=port,
            user=user or getpass.getuser(),
            key_filename=Path(key_filename).expanduser() if key_filename else None,
            known_hosts=Path(known_hosts or "~/.ssh/known_hosts").expanduser(),
            trust_unknown_host=trust_unknown_host,
            board=board or host,
            connect_timeout=connect_timeout,
        )
        self.board = self.target.board
        self.python = python
        self._processes: list[RemoteProcess] = []
        self._tunnels: set[sshtunnel.Tunnel] = set()
        self._sftp: Any = None
        self._uname: tuple[str, str] | None = None
        self._closed = False
        self._client = connect(self.target)

    @contextmanager
    def ssh_errors(self, step: str) -> Iterator[None]:
        """Convert paramiko and socket exceptions in the block (:mod:`~.connect`, one place).

        Raises
        ------
        BoardError
            A subclass naming this board and ``step``.
        """
        with ssh_errors(self.target, step, getattr(self, "_client", None)):
            yield

    def transport(self, step: str) -> Any:
        """The live paramiko Transport (for callers that open their own channels).

        Raises
        ------
        BoardUnreachableError
            If the connection is closed or lost.
        """
        transport = self._client.get_transport()
        if self._closed or transport is None or not transport.is_active():
            raise BoardUnreachableError(self.board, step, "the SSH connection is closed")
        return transport

    def sftp(self, step: str) -> Any:
        """The connection's SFTP client; a new one if the last was closed after a timeout.

        Raises
        ------
        BoardError
            If the board refuses SFTP.
        """
        if self._sftp is not None and self._sftp.get_channel().closed:
            self._sftp = None
        return super().sftp(step)

    def _argv(self, command: Sequence[str]) -> list[str]:
        return [self.python if i == 0 and a == "python" else a for i, a in enumerate(command)]

    def output(self, script: str, step: str, timeout: float = COMMAND_DEADLINE_S) -> str:
        """Run a short shell script on the board and return its stdout.

        Parameters
        ----------
        script : str
            The shell command line (its stdin is closed).
        step : str
            What it is for, in messages.
        timeout : float
            Seconds it gets, from start to exit status and the end of its output.

        Raises
        ------
        RemoteCommandError
            If it exits non-zero.
        BoardTimeoutError
            If it does not finish within ``timeout`` (the channel is closed).
        BoardError
            If the board cannot be used.
        """
        with self.ssh_errors(step):
            channel = self.transport(step).open_session(timeout=self.target.connect_timeout)
            done = run_command(channel, script, board=self.board, step=step, deadline_s=timeout)
        if done.exit_code != 0:
            stderr_tail = done.stderr.decode(errors="replace").splitlines()
            argv = ["sh", "-c", script]
            raise RemoteCommandError(self.board, argv, done.exit_code, stderr_tail, step)
        return done.stdout.decode(errors="replace")

    def run(
        self,
        command: Sequence[str],
        *,
        image: str | None = None,
        workdir: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> ExecutionRecord:
        """Run ``command`` on the board (see :meth:`Executor.run`); ``workdir`` is remote.

        Raises
        ------
        RemoteCommandError
            If ``check`` and the command exits non-zero.
        ExecutionTimeoutError
            If it outlives ``timeout``; it is stopped (TERM, then KILL) on the board.
        BoardError
            If the board cannot be used.
        """
        argv = self._argv(command)
        step = f"running `{argv[0]}`" if argv else "running a command"
        script = command_script(argv, None if workdir is None else str(workdir), env)
        out = MarkedOutput(OutputSink(stdout or sys.stdout))
        err = OutputSink(stderr or sys.stderr)
        platform = self._platform()
        started_at = datetime.now(UTC)
        start = time.monotonic()
        try:
            with self.ssh_errors(step):
                channel = self.transport(step).open_session(timeout=self.target.connect_timeout)
                code = run_command(
                    channel,
                    script,
                    board=self.board,
                    step=step,
                    deadline_s=timeout,
                    stdout=out.write,
                    stderr=err.write,
                    name=shlex.join(argv),
                ).exit_code
        except BoardTimeoutError as exc:
            self._kill(out)
            where = f"on board '{self.board}'"
            raise ExecutionTimeoutError(argv, timeout or 0.0, err.lines(), where) from exc
        except KenningError:
            raise  # the board is gone or refused: nothing left to stop there
        except BaseException:  # Ctrl-C or an error here: never leave the command running
            self._kill(out)
            raise
        finally:
            out.flush()
        record = ExecutionRecord(
            executor=self.name,
            environment=image,
            kenning_version=kenning.__version__,
            git_commit=git_commit(),
            command=argv,
            workdir=out.cwd or str(workdir or "~"),
            host=self.board,
            platform=platform,
            exit_code=code,
            started_at=started_at,
            duration_s=time.monotonic() - start,
        )
        if check and code != 0:
            raise RemoteCommandError(self.board, argv, code, err.lines(), step).with_record(record)
        return record

    def _kill(self, out: MarkedOutput) -> None:
        if out.started.wait(self.target.connect_timeout) and out.pid is not None:
            try:
                self.output(stop_script(out.pid, STOP_GRACE_S), f"stopping pid {out.pid}")
            except KenningError as exc:
                log.warning("board %s: could not stop pid %d: %s", self.board, out.pid, exc)

    def _platform(self) -> str:
        if self._uname is None:
            system, _, machine = self.output("uname -sm", "asking uname").strip().partition(" ")
            self._uname = (system.lower(), machine)
        return f"{self._uname[0]}/{docker_arch(self._uname[1])}"

    def uname_machine(self) -> str:
        """The board's machine name as ``uname -m`` says it (``x86_64``, ``aarch64``)."""
        self._platform()
        assert self._uname is not None
        return self._uname[1]

    def close(self) -> None:
        """Stop the background processes started here and the tunnels; close the connection."""
        if self._closed:
            return
        try:
            for tunnel in list(self._tunnels):
                tunnel.close()
            for process in list(self._processes):
                try:
                    process.stop()
                except KenningError as exc:
                    log.warning("board %s: %s", self.board, exc)
        finally:
            self._closed = True
            if self._sftp is not None:
                self._sftp.close()
            self._client.close()

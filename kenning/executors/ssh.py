"""Run steps on a board over SSH (paramiko): commands, files, a background server, tunnels.

The connection (host keys checked against known_hosts, keys only, never a password) is made
by :mod:`kenning.executors.sshconnect`, where paramiko and socket exceptions become kenning
errors (:func:`~kenning.executors.sshconnect.ssh_errors`); processes are handled by
:mod:`kenning.executors.sshprocess`, files by :mod:`kenning.executors.sshfiles`, ports
and tunnels by :mod:`kenning.executors.sshtunnel`.
Everything started on the board is stopped by :meth:`SSHExecutor.close`, which the
executor's context manager calls on success, on error and on Ctrl-C.
"""

from __future__ import annotations

import getpass
import logging
import posixpath
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

import kenning
from kenning.executors import sshfiles, sshtunnel
from kenning.executors.base import ExecutionRecord, Executor, OutputSink, docker_arch
from kenning.executors.boarderrors import BoardError, BoardUnreachableError, RemoteCommandError
from kenning.executors.errors import ExecutionTimeoutError
from kenning.executors.sshconnect import connect, paramiko, ssh_errors
from kenning.executors.sshprocess import (
    STOP_GRACE_S,
    MarkedOutput,
    RemoteProcess,
    background_script,
    command_script,
    join,
    pump,
    stop_script,
)
from kenning.executors.sshtarget import TRUST_FLAG, SSHTarget
from kenning.utils.errors import KenningError
from kenning.utils.provenance import git_commit

__all__ = ["TRUST_FLAG", "RemoteProcess", "SSHExecutor"]

log = logging.getLogger("kenning.executors.ssh")

#: what the pumping threads may meet when a channel is closed under them
_CLOSED = (OSError, EOFError, paramiko.SSHException)


class SSHExecutor(Executor):
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
        """Convert paramiko and socket exceptions in the block (one place: sshconnect).

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

    def _argv(self, command: Sequence[str]) -> list[str]:
        return [self.python if i == 0 and a == "python" else a for i, a in enumerate(command)]

    def output(self, script: str, step: str) -> str:
        """Run a short shell script on the board and return its stdout.

        Raises
        ------
        RemoteCommandError
            If it exits non-zero.
        BoardError
            If the board cannot be used.
        """
        with self.ssh_errors(step):
            channel = self.transport(step).open_session(timeout=self.target.connect_timeout)
            try:
                channel.exec_command(script)
                out = channel.makefile("rb").read()
                err = channel.makefile_stderr("rb").read()
                code = channel.recv_exit_status()
            finally:
                channel.close()
        if code != 0:
            stderr_tail = err.decode(errors="replace").splitlines()
            raise RemoteCommandError(self.board, ["sh", "-c", script], code, stderr_tail, step)
        return str(out.decode(errors="replace"))

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
        with self.ssh_errors(step):
            channel = self.transport(step).open_session(timeout=self.target.connect_timeout)
            channel.exec_command(script)
        readers = [
            pump(channel.recv, out.write, _CLOSED),
            pump(channel.recv_stderr, err.write, _CLOSED),
        ]
        try:
            finished = channel.status_event.wait(timeout)
            if not finished:
                self._kill(out)
        except BaseException:  # Ctrl-C or an error here: never leave the command running
            self._kill(out)
            channel.close()
            raise
        join(readers)
        out.flush()
        code = channel.recv_exit_status() if finished else -9
        channel.close()
        where = f"on board '{self.board}'"
        if not finished:
            raise ExecutionTimeoutError(argv, timeout or 0.0, err.lines(), where)
        if code == -1 and not self._client.get_transport().is_active():
            raise BoardUnreachableError(self.board, step, "the SSH connection was lost")
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

    def free_bytes(self, path: str) -> int:
        """Bytes free for an unprivileged user where ``path`` is, or would be, on the board.

        Raises
        ------
        BoardError
            If ``df`` fails or prints something unexpected.
        """
        return sshfiles.free_bytes(self, path)

    def sftp(self, step: str) -> Any:
        """The connection's ``paramiko.SFTPClient`` (opened on first use).

        Raises
        ------
        BoardError
            If the board refuses SFTP.
        """
        if self._sftp is None:
            with self.ssh_errors(step):
                self._sftp = self._client.open_sftp()
        return self._sftp

    def upload(self, local: Path, remote: str) -> None:
        """Copy ``local`` to ``remote`` on the board, making its folders, with a progress bar.

        Raises
        ------
        RemoteSpaceError
            If the board runs out of space (the partial file is removed).
        BoardError
            If the copy fails otherwise.
        """
        sshfiles.push(self, local, remote)

    def download(self, remote: str, local: Path) -> None:
        """Copy ``remote`` from the board to ``local``, with a progress bar.

        Raises
        ------
        BoardError
            If the remote file is missing or the copy fails.
        """
        sshfiles.fetch(self, remote, local)

    def start_background(
        self,
        command: Sequence[str],
        log_path: str,
        *,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RemoteProcess:
        """Start ``command`` on the board in its own session, output to ``log_path``.

        ``log_path`` is relative to ``workdir`` (else the login folder). :meth:`close` stops it.

        Raises
        ------
        BoardError
            If it cannot be started.
        """
        argv = self._argv(command)
        step = f"starting `{argv[0]}`"
        if workdir:  # so that log_tail, run from the login folder, finds it too
            log_path = posixpath.join(workdir, log_path)
        pid = self.output(background_script(argv, log_path, workdir, env), step).strip()
        if not pid.isdigit():
            raise BoardError(self.board, step, f"no process id came back (got {pid!r})")
        process = RemoteProcess(self, int(pid), argv, log_path)
        self._processes.append(process)
        return process

    def forget(self, process: RemoteProcess) -> None:
        """Stop tracking ``process`` (it was stopped)."""
        if process in self._processes:
            self._processes.remove(process)

    def wait_for_port(
        self,
        port: int,
        *,
        process: RemoteProcess | None = None,
        timeout: float = 60.0,
        host: str = "127.0.0.1",
    ) -> None:
        """Wait until something accepts connections on ``host:port`` as seen from the board.

        Raises
        ------
        BoardError
            With step ``"starting the server"`` if ``process`` exits first (with its log
            tail), if nothing listens within ``timeout``, or if the board forbids forwarding.
        """
        sshtunnel.wait_for_port(self, port, process, timeout, host)

    @contextmanager
    def forward(self, remote_port: int, remote_host: str = "127.0.0.1") -> Iterator[int]:
        """Relay a local port on 127.0.0.1 to ``remote_host:remote_port`` seen from the board.

        Yields
        ------
        int
            The local port (chosen by the OS).

        Raises
        ------
        BoardError
            If the connection is closed.
        """
        step = f"tunnelling to port {remote_port}"
        tunnel = sshtunnel.Tunnel(self.transport(step), (remote_host, remote_port), self.board)
        self._tunnels.add(tunnel)
        try:
            yield tunnel.port
        finally:
            tunnel.close()
            self._tunnels.discard(tunnel)

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

"""What a board session offers beyond commands: files, background processes, ports, tunnels.

:class:`BoardSession` is the part of :class:`kenning.executors.ssh.executor.SSHExecutor` that works
through the connection's public operations only (``output``, ``sftp``, ``transport``,
``ssh_errors``); the file copies live in :mod:`kenning.executors.ssh.files`, ports and tunnels
in :mod:`kenning.executors.ssh.tunnel`. The executor holds the connection and stops everything
started here when it closes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from kenning.executors.ssh import files as sshfiles
from kenning.executors.ssh import tunnel as sshtunnel
from kenning.executors.ssh import watch as sshwatch
from kenning.executors.ssh.process import RemoteProcess
from kenning.executors.ssh.target import SSHTarget


class BoardSession:
    """Files, background processes and tunnels over a connected board's session."""

    board: str
    target: SSHTarget
    _client: Any
    _sftp: Any
    _processes: list[RemoteProcess]
    _tunnels: set[sshtunnel.Tunnel]

    def output(self, script: str, step: str) -> str:
        """Run a short shell script on the board; its stdout (the executor's)."""
        raise NotImplementedError

    def ssh_errors(self, step: str) -> AbstractContextManager[None]:
        """Convert connection errors in a block (the executor's)."""
        raise NotImplementedError

    def transport(self, step: str) -> Any:
        """The live transport (the executor's)."""
        raise NotImplementedError

    def _argv(self, command: Sequence[str]) -> list[str]:
        raise NotImplementedError

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
        stdin: bytes | None = None,
        on_hangup: Sequence[str] = (),
    ) -> RemoteProcess:
        """Start ``command`` on the board in its own session, output to ``log_path``.

        ``log_path`` is relative to ``workdir`` (else the login folder). ``stdin`` is one
        line the command reads on its standard input (a secret: it is on no command line).
        A watchdog on the board holds a channel of this connection: when the process is
        stopped, or the connection dies, it stops the process and runs ``on_hangup`` (e.g.
        ``docker rm -f NAME``); see :mod:`kenning.executors.ssh.watch`. :meth:`close` stops it.

        Raises
        ------
        ValueError
            If ``stdin`` is not one line ending in a newline.
        BoardError
            If it cannot be started.
        """
        argv = self._argv(command)
        if workdir:  # so that log_tail, run from the login folder, finds it too
            log_path = posixpath.join(workdir, log_path)
        process = sshwatch.start_watched(
            self,
            argv,
            log_path,
            workdir=workdir,
            env=env,
            stdin=stdin,
            on_hangup=self._argv(on_hangup),
        )
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

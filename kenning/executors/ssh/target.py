"""Where and how to reach a board over SSH, and what helpers may ask of a connection."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

#: the flag of the invoke tasks that trusts (and records) an unknown host key
TRUST_FLAG = "--trust-host-key"

#: seconds between keepalive packets, so a dead board is noticed
KEEPALIVE_S = 15


@dataclass(frozen=True)
class SSHTarget:
    """Where and how to log in to a board.

    :class:`~kenning.executors.ssh.executor.SSHExecutor` runs steps there; the connection
    itself is made by :mod:`kenning.executors.ssh.connect`.
    """

    host: str
    port: int
    user: str
    key_filename: Path | None
    known_hosts: Path
    trust_unknown_host: bool
    board: str
    connect_timeout: float

    @property
    def entry(self) -> str:
        """The board's name in known_hosts: ``host``, or ``[host]:port`` off port 22."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def key_text(self) -> str:
        """The keys offered, for messages."""
        return (
            f"key {self.key_filename}" if self.key_filename else "the ssh-agent's and ~/.ssh keys"
        )


class SSHConnection(Protocol):
    """What the file and tunnel helpers need of a connection (its public API only).

    :class:`kenning.executors.ssh.executor.SSHExecutor` is one; the helpers never import it.
    """

    board: str
    target: SSHTarget

    def ssh_errors(self, step: str) -> AbstractContextManager[None]:
        """Convert paramiko and socket exceptions raised in the block."""
        ...

    def transport(self, step: str) -> Any:
        """The live paramiko Transport."""
        ...

    def output(self, script: str, step: str) -> str:
        """Run a short shell script on the board and return its stdout."""
        ...

    def sftp(self, step: str) -> Any:
        """The connection's SFTP client."""
        ...

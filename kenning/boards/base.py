"""What a board is to the toolchain: a place ``inference_server`` runs, reached at an endpoint.

Split the way labgrid splits a board: the inventory entry says where it is
(:class:`kenning.boards.inventory.BoardEntry`, the resource), an executor does one kind of
work there (local processes, SSH, Docker: :mod:`kenning.executors`), and a board class holds
the ordered steps that bring it to serving a model and back (this interface;
:class:`kenning.boards.local.LocalBoard`, :class:`kenning.boards.remote.RemoteBoard`). The
toolchain talks to this interface only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Endpoint:
    """Where this host reaches a running server (TCP, or a serial line), and the run's secret.

    ``secret_file`` is a file on this host (mode 0600) holding the secret the server was
    given; the host's side of the handshake reads it (``--secret-file``).
    """

    host: str
    port: int
    secret_file: Path | None = None
    #: the host's end of a serial line (device or socket:// URL) when the server speaks serial
    serial: str | None = None
    baud: int = 115200

    def protocol_args(self) -> dict[str, str]:
        """The tester's protocol flags as step parameters (``--protocol-cls`` and its flags)."""
        if self.serial is not None:
            return {"protocol": "serial", "port": self.serial, "baud": str(self.baud)}
        return {"protocol": "network", "host": self.host, "port": str(self.port)}


class Board(Protocol):
    """A place a target server runs: this machine, a board over SSH, a microcontroller."""

    name: str
    arch: str
    #: what it is on this machine: ``"local"`` (the local board), ``"emulated"`` (a board
    #: under QEMU) or None (elsewhere); the two kinds never run at once (QEMU would be load
    #: beside the local board's measurement)
    on_this_machine: str | None

    def serve(
        self,
        runtime: str,
        suffix: str,
        folder: Path,
        args: Sequence[str] = (),
        *,
        artifact: Path | None = None,
    ) -> AbstractContextManager[Endpoint]:
        """Start the server with ``runtime`` (models saved as ``model.SUFFIX``).

        ``folder`` is where the board's log and files are kept on this host; ``args`` are
        more runtime flags (a deployment's runtime parameters), after the board's own.
        ``artifact`` is the compiled deployment: a board whose server is built with its
        model (a microcontroller's firmware, :class:`kenning.boards.mcu.McuBoard`) starts
        it; the others receive the model through the protocol and ignore it.
        """
        ...

    def preflight(self) -> None:
        """Check the board answers (before minutes are spent compiling for it)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What a results file keeps about the board (name, kind, host, deploy method)."""
        ...

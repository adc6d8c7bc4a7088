"""A microcontroller board: kenning's firmware, with the model built in, under QEMU or real.

The model is not sent to a microcontroller: compiler ``onnx-c`` with ``--target MACHINE``
builds the firmware with the model's C into ``<artifact>/firmware.elf``. On an emulated board
(``emulator: qemu``) :meth:`serve` starts that firmware on the emulated machine with the run's
secret written into a private copy of it (:func:`kenning.boards.qemu.qemu_board`); the host
reaches the server on the UART's pseudo-terminal. A real board (``emulator: none``) was
flashed by its owner with the firmware and the secret in the inventory's ``secret_file:``
(docs/boards.md): kenning does not flash it, it reaches the line the inventory names (a
device, or ser2net's ``socket://``), and MODEL refuses a firmware that holds another model
than the deployment's, naming both.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kenning.boards.base import Endpoint
from kenning.boards.inventory import BoardEntry
from kenning.boards.protocolconfig import SerialProtocolConfig
from kenning.executors.boarderrors import BoardError
from kenning.runtimeprotocols.handshake import run_secret
from kenning.utils.errors import MissingToolError

__all__ = ["EMULATOR", "McuBoard"]

#: how an emulated board's firmware runs (its figures are instruction counts)
EMULATOR = "qemu-system-arm -icount shift=0"
#: what an emulated board's times mean
EMULATED_CLOCK = "emulated: 1 instruction = 1 ns, not silicon time"
#: seconds the firmware gets to boot and answer on its UART
BOOT_TIMEOUT_S = 30.0


class McuBoard:
    """A ``deploy: mcu`` board of the inventory: its firmware run under QEMU.

    Parameters
    ----------
    entry : BoardEntry
        The inventory's entry (``machine``, ``cpu``, memory, ``emulator``, ``protocol``).
    """

    def __init__(self, entry: BoardEntry) -> None:
        assert entry.machine is not None  # the inventory requires it of mcu boards
        self.entry = entry
        self.name = entry.name
        self.machine = entry.machine
        #: artifacts are made per machine: one firmware for every board of it
        self.arch = entry.build_arch
        self.runtimes: list[str] | None = list(entry.runtimes)
        self.on_this_machine = "emulated" if entry.emulator == "qemu" else None

    @contextmanager
    def serve(
        self,
        runtime: str,
        suffix: str,
        folder: Path,
        args: Sequence[str] = (),
        *,
        artifact: Path | None = None,
    ) -> Iterator[Endpoint]:
        """Start the firmware of ``artifact`` (``<artifact>/firmware.elf``) with a new secret.

        ``runtime``, ``suffix`` and ``args`` are the deployment's; the firmware serves the
        model built into it and takes no flags. QEMU's log is ``folder/qemu.log``. A real
        board is not started: the endpoint is its line and its ``secret_file``, and MODEL
        (the artifact's model) checks it holds this firmware's model.

        Raises
        ------
        BoardError
            If there is no firmware, a real board has no line or secret file, or the
            firmware does not boot.
        MissingToolError
            If ``qemu-system-arm`` is not installed.
        """
        firmware = self._firmware(artifact)
        if args:
            raise BoardError(
                self.name,
                "starting the server",
                f"the firmware takes no runtime flags ({' '.join(args)}): the model is built in",
            )
        if self.entry.emulator != "qemu":  # flashed by its owner: the line and its secret
            yield self.real_endpoint()
            return
        from kenning.boards.qemu import qemu_board

        with run_secret(folder) as (secret, secret_file):
            with qemu_board(
                firmware, self.machine, secret.encode(), folder, BOOT_TIMEOUT_S
            ) as running:
                yield Endpoint("", 0, secret_file, serial=running.line)

    def _firmware(self, artifact: Path | None) -> Path:
        if artifact is None:
            raise BoardError(
                self.name,
                "starting the server",
                "a microcontroller serves the firmware built with its model: no artifact given",
            )
        firmware = Path(artifact) / "firmware.elf"
        if not firmware.is_file():
            raise BoardError(
                self.name,
                "starting the server",
                f"{firmware} is missing: compile the deployment with `onnx-c` and "
                f"`target: {self.machine}` (the toolchain does, for this board)",
            )
        return firmware

    def real_endpoint(self) -> Endpoint:
        """Where the host reaches this real board: its serial line and its secret file.

        Raises
        ------
        BoardError
            If the board has no serial line or its secret file is missing.
        """
        line = self._real_line("reaching the board")
        return Endpoint("", 0, self._secret_file(), serial=line.device, baud=line.baud)

    def _real_line(self, step: str) -> SerialProtocolConfig:
        protocol = self.entry.protocol
        if not isinstance(protocol, SerialProtocolConfig):
            raise BoardError(
                self.name,
                step,
                "a real microcontroller (`emulator: none`) is reached on a serial line: give "
                "`protocol: {kind: serial, device: /dev/ttyACM0}` in the inventory",
            )
        return protocol

    def _secret_file(self) -> Path:
        path = self.entry.secret_file
        assert path is not None  # the inventory requires it of real boards
        if not path.is_file():
            raise BoardError(
                self.name,
                "reaching the board",
                f"secret_file {path} is missing: it holds the secret provisioned into the "
                'board\'s firmware (docs/boards.md, "A real board")',
            )
        return path

    def preflight(self) -> None:
        """Check the board can be used: QEMU installed, or the real board's line and secret.

        Raises
        ------
        MissingToolError
            If ``qemu-system-arm`` is not installed (an emulated board).
        BoardError
            If a real board has no serial line or its secret file is missing.
        """
        if self.entry.emulator != "qemu":
            self._real_line("checking the board")
            self._secret_file()
        elif shutil.which("qemu-system-arm") is None:
            raise MissingToolError("qemu-system-arm", "apt-get install qemu-system-arm")

    def describe(self) -> dict[str, Any]:
        """The board as results record it: its machine, core, memory and how time is counted."""
        described: dict[str, Any] = {
            "name": self.name,
            "kind": "mcu",
            "machine": self.machine,
            "cpu": self.entry.cpu,
            "flash_bytes": self.entry.flash_bytes,
            "ram_bytes": self.entry.ram_bytes,
            "arch": self.arch,
        }
        if self.entry.emulator == "qemu":
            described.update(emulator=EMULATOR, clock=EMULATED_CLOCK)
        else:
            described.update(emulator="none", firmware="flashed by the board's owner")
        return described

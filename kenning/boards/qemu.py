"""A microcontroller board under QEMU: the firmware run by ``qemu-system-arm``, its UART a pty.

The firmware is started with ``-icount shift=0``: every instruction advances the emulated
clock by exactly 1 ns, so a figure is the same on every run and every machine. It is an
instruction count in the unit of time, never silicon time: a real Cortex-M4 at 25 MHz would
take its own (longer) time. The board is ready when the firmware answers a request on its
UART (a STATS before the handshake gets an ERROR): QEMU drops what the firmware writes while
nobody holds the pty, so a banner printed at boot cannot be relied on, and kenning holds the
pty open (without reading it) for as long as the board runs.
"""

from __future__ import annotations

import logging
import os
import re
import select
import shutil
import subprocess
import termios
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kenning.executors.boarderrors import BoardError, BoardTimeoutError
from kenning.frameworks.mcufirmware import machine, provision
from kenning.runtimeprotocols.wire import MessageType, encode_frame
from kenning.utils.errors import MissingToolError

log = logging.getLogger("kenning.qemu")

_PTY = re.compile(r"char device redirected to (/dev/pts/\d+)")
#: what a board that is up answers to the probe
_ANSWER = b"before the handshake"
#: QEMU notices a pty's reader about once a second
_PROBE_EVERY_S = 0.5


@dataclass
class RunningBoard:
    """A started board: its UART (the host's end, a pty), QEMU's process and log."""

    board: str
    line: str
    process: subprocess.Popen[bytes]
    log_path: Path
    boot_s: float

    def alive(self) -> bool:
        """Whether QEMU (the board) is still running."""
        return self.process.poll() is None


def qemu_command(board: str, firmware: Path) -> list[str]:
    """The ``qemu-system-arm`` command line that runs ``firmware`` on ``board``.

    Raises
    ------
    MissingToolError
        If ``qemu-system-arm`` is not installed.
    """
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        raise MissingToolError("qemu-system-arm", "apt-get install qemu-system-arm")
    emulated = ["-M", machine(board)["qemu_machine"], "-icount", "shift=0"]
    console = ["-nographic", "-monitor", "none", "-serial", "pty"]
    return [qemu, *emulated, *console, "-kernel", str(firmware)]


def _log_tail(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-10:]
    except OSError:
        return []


def _copy_stream(stream: IO[bytes], out: IO[bytes], first: list[bytes], seen: threading.Event):
    for line in iter(stream.readline, b""):
        out.write(line)
        out.flush()
        if not seen.is_set():
            first.append(line)
            if _PTY.search(line.decode(errors="replace")):
                seen.set()
    seen.set()


def wait_until_serving(line: str, timeout: float) -> bool:
    """Whether the firmware on ``line`` answers within ``timeout`` s (after line noise, say)."""
    fd = os.open(line, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        return _probe(fd, time.monotonic() + timeout)
    finally:
        os.close(fd)


def _probe(fd: int, deadline: float) -> bool:
    """Ask the firmware on the line ``fd`` until it answers or ``deadline`` passes."""
    tty.setraw(fd)
    probe = b"".join(bytes(b) for b in encode_frame(MessageType.STATS, False, 0, b""))
    heard = b""
    next_probe = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_probe:
            os.write(fd, probe)
            next_probe = time.monotonic() + _PROBE_EVERY_S
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            heard += os.read(fd, 4096)
            if _ANSWER in heard:
                time.sleep(0.3)  # the answers to earlier probes
                termios.tcflush(fd, termios.TCIOFLUSH)
                return True
    return False


@contextmanager
def qemu_board(
    firmware: Path, board: str, secret: bytes, workdir: Path, boot_timeout: float = 30.0
) -> Iterator[RunningBoard]:
    """Run ``firmware`` on the emulated ``board``, given ``secret``; stop it afterwards.

    Raises
    ------
    BoardTimeoutError
        If the firmware does not answer on its UART within ``boot_timeout`` seconds.
    BoardError
        If QEMU stops or does not give a pty.
    """
    workdir = Path(workdir)
    image = provision(firmware, secret, workdir / "firmware.elf")
    log_path = workdir / "qemu.log"
    command = qemu_command(board, image)
    start = time.monotonic()
    deadline = start + boot_timeout
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None  # QEMU names the pty on its stdout
        first: list[bytes] = []
        seen = threading.Event()
        copier = threading.Thread(
            target=_copy_stream, args=(process.stdout, log_file, first, seen), daemon=True
        )
        copier.start()
        holder: int | None = None
        try:
            seen.wait(max(0.0, deadline - time.monotonic()))
            found = _PTY.search(b"".join(first).decode(errors="replace"))
            if found is None:
                detail = f"qemu-system-arm gave no pty for the UART (status {process.poll()})"
                raise BoardError(board, "starting QEMU", detail, _log_tail(log_path))
            line = found.group(1)
            # held open while the board runs: QEMU drops what the firmware writes while no one
            # holds the pty, and notices a new reader only about a second later
            holder = os.open(line, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            if not _probe(holder, deadline):
                awaited = f"the firmware {firmware.name} did not answer on its UART ({line})"
                step = "booting the firmware"
                raise BoardTimeoutError(board, step, awaited, boot_timeout, _log_tail(log_path))
            boot_s = time.monotonic() - start
            log.info("board %s: firmware up on %s after %.2f s (QEMU)", board, line, boot_s)
            yield RunningBoard(board, line, process, log_path, boot_s)
        finally:
            if holder is not None:
                os.close(holder)
            process.terminate()
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            copier.join(5.0)
            process.stdout.close()
            image.unlink(missing_ok=True)

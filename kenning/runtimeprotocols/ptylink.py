"""A virtual null-modem cable: two pseudo-terminals joined by a relay.

Each end is a real tty device (``/dev/pts/N``) that pyserial opens like a
UART, so :class:`~kenning.runtimeprotocols.serial.SerialProtocol` can be run
and tested without hardware. A pseudo-terminal has no line rate of its own;
given ``baudrate``, the relay delivers bytes no faster than a UART would
(``baudrate / bits_per_byte`` bytes per second in each direction), which is
what serial benchmarks measure against.

Example::

    with PtyLink(baudrate=115200) as (target_port, host_port):
        ...  # inference_server serial ... --port target_port; tester --port host_port
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from types import TracebackType


class PtyLink:
    """Two pseudo-terminals whose traffic is copied to each other.

    Parameters
    ----------
    baudrate : int, optional
        Pace each direction like a UART at this rate; unpaced when ``None``.
    bits_per_byte : int
        Bits on the line per byte: 10 for 8N1 (start, 8 data, stop).
    """

    def __init__(self, baudrate: int | None = None, bits_per_byte: int = 10) -> None:
        self.rate = baudrate / bits_per_byte if baudrate else None
        self.paths: tuple[str, str] = ("", "")
        #: bytes relayed in each direction (first to second end, second to first)
        self.relayed = [0, 0]
        self._fds: list[int] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> tuple[str, str]:
        """Create both ends and start relaying; return their device paths."""
        master_a, slave_a = os.openpty()
        master_b, slave_b = os.openpty()
        # The link keeps each slave open so its master never reads EIO when a
        # user closes and reopens the device; raw mode stops echo and line editing.
        for fd in (slave_a, slave_b):
            tty.setraw(fd)
        for fd in (master_a, master_b):
            os.set_blocking(fd, False)
        self._fds = [master_a, slave_a, master_b, slave_b]
        self.paths = (os.ttyname(slave_a), os.ttyname(slave_b))
        for index, (src, dst) in enumerate(((master_a, master_b), (master_b, master_a))):
            thread = threading.Thread(
                target=self._relay, args=(src, dst, index), name=f"ptylink-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self.paths

    def _relay(self, src: int, dst: int, index: int) -> None:
        next_due = time.monotonic()
        piece = max(1, int(self.rate / 1000)) if self.rate else 1 << 16  # ~1 ms of line time
        while not self._stop.is_set():
            ready, _, _ = select.select([src], [], [], 0.05)
            if not ready:
                continue
            try:
                data = memoryview(os.read(src, 1 << 16))
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return  # the link is being closed
            next_due = max(next_due, time.monotonic())
            while data and not self._stop.is_set():
                part = data[:piece]
                if self.rate:
                    next_due += len(part) / self.rate
                    delay = next_due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                if not self._write(dst, part):
                    return
                self.relayed[index] += len(part)
                data = data[len(part) :]

    def _write(self, fd: int, data: memoryview) -> bool:
        while data:
            if self._stop.is_set():
                return False
            _, ready, _ = select.select([], [fd], [], 0.05)
            if not ready:
                continue
            try:
                data = data[os.write(fd, data) :]
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return False
        return True

    def stop(self) -> None:
        """Stop relaying and close both ends."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []

    def __enter__(self) -> tuple[str, str]:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

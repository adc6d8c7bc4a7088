"""Serial-line transport (UART, USB CDC, pseudo-terminal) through pyserial.

A serial line has no connections: the target opens its device once and
answers whatever frames arrive; a host opens its end and starts talking. After
a frame that breaks alignment, the target drains the line until it is quiet
and waits for the next frame header.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from kenning.core.args import Arg
from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.errors import (
    ConnectionClosedError,
    ProtocolTimeoutError,
    TransportError,
)
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.utils.imports import require


class SerialProtocol(FramedProtocol):
    """Messages over a serial line, 8N1.

    Parameters
    ----------
    port : str
        The device, e.g. ``/dev/ttyUSB0`` or a pseudo-terminal such as ``/dev/pts/3``, or a
        line served over TCP (ser2net): ``socket://HOST:PORT``, ``rfc2217://HOST:PORT``.
    baudrate : int
        Line rate in bits per second.
    packet_size, timeout, max_payload_size
        See :class:`~kenning.core.runtimeprotocol.RuntimeProtocol`.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--port", str, help="serial device (/dev/ttyUSB0) or socket://HOST:PORT (ser2net)"),
        Arg("--baudrate", int, 115200, "line rate in bits per second"),
        Arg("--packet-size", int, 4096, "largest payload of one frame, in bytes"),
    )

    has_connections = False
    #: how long the line must stay silent for a resynchronisation to end, in seconds
    quiet_time = 0.05

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        packet_size: int = 4096,
        timeout: float = 30.0,
        max_payload_size: int = 1 << 28,
        secret_file: str | None = None,
    ) -> None:
        # a message may take as long as the line needs for it, twice over
        super().__init__(packet_size, timeout, max_payload_size, secret_file, baudrate / 20)
        self.port = port
        self.baudrate = baudrate
        self.serial: Any = None
        self._serial_exception: type[Exception] = OSError
        self._write_timeout_exception: type[Exception] = OSError

    def describe(self) -> str:
        return f"{self.port} at {self.baudrate} baud"

    # -- connection --------------------------------------------------------------
    def _open(self) -> None:
        pyserial = require("serial", "serial")
        self._serial_exception = pyserial.SerialException
        self._write_timeout_exception = pyserial.SerialTimeoutException
        try:
            # a device is opened exclusively; socket:// and rfc2217:// reach a line over TCP
            options = {} if "://" in self.port else {"exclusive": True}
            self.serial = pyserial.serial_for_url(
                self.port,
                self.baudrate,
                timeout=self.timeout,
                write_timeout=self.timeout,
                **options,
            )
            self.serial.reset_input_buffer()
        except (pyserial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"cannot open serial port {self.port}: {exc}") from exc
        self.reset_session()

    def initialize_server(self) -> None:
        self._open()

    def accept_client(self, timeout: float | None) -> str:
        if self.serial is None:
            raise TransportError("initialize_server() must be called before accept_client()")
        return self.describe()

    def initialize_client(self) -> None:
        self._open()

    def disconnect(self) -> None:
        """Drop the session's keys; the line stays open for the next host.

        Input already on the line is kept: the host may send its next HELLO as soon
        as it reads the session's last answer, and a server that wants the line clean
        drains it (:meth:`resync`) before it answers, never after.
        """
        self.reset_session()

    def resync(self) -> None:
        """Discard input until the line has been quiet for :attr:`quiet_time` seconds."""
        self.reader.reset()
        if self.serial is None:
            return
        deadline = time.monotonic() + self.timeout
        try:
            self.serial.timeout = self.quiet_time
            while self.serial.read(4096) and time.monotonic() < deadline:
                pass
        except (self._serial_exception, OSError) as exc:
            raise ConnectionClosedError(f"serial port {self.port} failed: {exc}") from exc

    def close(self) -> None:
        if self.serial is not None:
            try:
                self.serial.close()
            finally:
                self.serial = None
                self.reset_session()

    # -- bytes -------------------------------------------------------------------
    def _port(self) -> Any:
        if self.serial is None:
            raise ConnectionClosedError(f"serial port {self.port} is not open")
        return self.serial

    def write(self, buffers: Sequence[Buffer]) -> None:
        port = self._port()
        data = buffers[0] if len(buffers) == 1 else b"".join(buffers)
        try:
            port.write(data)
        except self._write_timeout_exception as exc:
            raise ProtocolTimeoutError("the line to accept more data", self.timeout) from exc
        except (self._serial_exception, OSError) as exc:
            raise ConnectionClosedError(f"writing to {self.port} failed: {exc}") from exc

    def read_some(self, view: memoryview, timeout: float | None) -> int:
        port = self._port()
        try:
            if port.timeout != timeout:
                port.timeout = timeout
            waiting = port.in_waiting
            data = port.read(min(len(view), waiting) if waiting else 1)
        except (self._serial_exception, OSError) as exc:
            raise ConnectionClosedError(f"reading from {self.port} failed: {exc}") from exc
        if not data:
            raise ProtocolTimeoutError("data", timeout)
        view[: len(data)] = data
        return len(data)

"""The RuntimeProtocol interface: how host and target move messages.

A transport only moves bytes (a few hooks below) and offers whole messages; how messages
are framed is the implementations' business (:class:`kenning.runtimeprotocols.framed.
FramedProtocol` owns kenning's framer), and the session (which message follows which) lives
in :mod:`kenning.runtimeprotocols.client` and :mod:`kenning.runtimeprotocols.server`.
Reference implementation: :class:`kenning.runtimeprotocols.network.NetworkProtocol`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

from kenning.core.args import Arg, ArgumentsHandler
from kenning.utils.errors import ConfigurationError

Buffer = bytes | bytearray | memoryview


class RuntimeProtocol(ArgumentsHandler):
    """Base class of host-target transports.

    Every method raises a :class:`~kenning.utils.errors.ProtocolError` subclass
    (see :mod:`kenning.runtimeprotocols.errors`) on failure; none returns a
    success flag. The constructor raises
    :class:`~kenning.utils.errors.ConfigurationError` for impossible settings.

    Parameters
    ----------
    packet_size : int
        Largest payload of one frame; longer messages are sent in several.
    timeout : float
        Seconds any single read or write may wait before it fails.
    max_payload_size : int
        Largest message accepted; a longer one is rejected before it is read.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--packet-size", int, 1 << 16, "largest payload of one frame, in bytes"),
        Arg("--timeout", float, 30.0, "seconds to wait for the peer on any read or write"),
        Arg("--max-payload-size", int, 1 << 28, "largest message accepted, in bytes"),
    )

    #: whether each host arrives on a connection of its own (a serial line has none)
    has_connections: ClassVar[bool] = True

    def __init__(
        self, packet_size: int = 1 << 16, timeout: float = 30.0, max_payload_size: int = 1 << 28
    ) -> None:
        if packet_size < 1:
            raise ConfigurationError("--packet-size must be at least 1 byte")
        if timeout <= 0 or max_payload_size < 0:
            raise ConfigurationError("--timeout must be > 0 and --max-payload-size >= 0")
        self.packet_size = packet_size
        self.timeout = timeout
        self.max_payload_size = max_payload_size

    # -- hooks -----------------------------------------------------------------
    def initialize_server(self) -> None:
        """Open the target side: listen on a port, open a device."""
        raise NotImplementedError

    def accept_client(self, timeout: float | None) -> str:
        """Wait for a host to connect (target side); return a description of it."""
        raise NotImplementedError

    def initialize_client(self) -> None:
        """Connect to the target (host side)."""
        raise NotImplementedError

    def disconnect(self) -> None:
        """End the current connection; a server can accept the next client."""
        raise NotImplementedError

    def resync(self) -> None:
        """Recover after the byte stream lost frame alignment (default: disconnect)."""
        self.disconnect()

    def close(self) -> None:
        """Free the transport entirely (also the listening side)."""
        raise NotImplementedError

    def write(self, buffers: Sequence[Buffer]) -> None:
        """Write all ``buffers`` to the peer, in order, as one write where possible."""
        raise NotImplementedError

    def read_some(self, view: memoryview, timeout: float | None) -> int:
        """Read at least one byte into ``view`` within ``timeout``; return the count."""
        raise NotImplementedError

    # -- messages (implemented by the framing layer) -----------------------------
    def send_message(self, type: int, payload: Buffer = b"") -> None:
        """Send one message of ``type`` with ``payload``."""
        raise NotImplementedError

    def receive_message(
        self, timeout: float | None = None, first_timeout: float | None = None
    ) -> Any:
        """Receive one whole, checked message (``timeout`` defaults to ``--timeout``)."""
        raise NotImplementedError

    def busy(self, reason: Callable[[], str]) -> AbstractContextManager[Any]:
        """While the block runs, tell any other host that connects ``reason()`` (server side).

        Default: nothing (a transport without connections has no other hosts to tell).
        """
        return nullcontext()

    def describe(self) -> str:
        """Where the transport listens or connects, for people."""
        return type(self).__name__

    def peer_process(self) -> int | None:
        """The PID of the connected peer when it runs on this machine (default: unknown).

        A server counts that process's CPU as part of the run, not as other load.
        """
        return None

    def get_framework_and_version(self) -> tuple[str, str]:
        """The transport's name and the version of the format it speaks."""
        return type(self).__name__, "unknown"

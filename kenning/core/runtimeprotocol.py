"""The RuntimeProtocol interface: how host and target exchange messages.

The wire format (frames, message types, checksums) is shared by every
transport; a transport only moves bytes. Reference implementation:
:class:`kenning.runtimeprotocols.network.NetworkProtocol`.
"""

from __future__ import annotations

from kenning.core.args import ArgumentsHandler


class RuntimeProtocol(ArgumentsHandler):
    """Base class of host-target transports.

    Every method raises a :class:`~kenning.core.errors.ProtocolError` subclass
    on failure; none returns a success flag.
    """

    # -- connection ------------------------------------------------------------
    def initialize_server(self) -> None:
        """Start listening for a client (target side)."""
        raise NotImplementedError

    def initialize_client(self) -> None:
        """Connect to the server (host side)."""
        raise NotImplementedError

    def disconnect(self) -> None:
        """Close the connection and free the transport."""
        raise NotImplementedError

    # -- raw bytes -------------------------------------------------------------
    def send_data(self, data: bytes) -> None:
        """Write ``data`` to the peer in full."""
        raise NotImplementedError

    def receive_data(self, size: int, timeout: float | None) -> bytes:
        """Read exactly ``size`` bytes, or raise a timeout or disconnection error."""
        raise NotImplementedError

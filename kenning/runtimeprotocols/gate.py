"""The target's side of the handshake: who may talk to this server (see ``handshake``).

:class:`Gate` keeps one connection's state: the nonces exchanged and whether the host
proved it holds the secret. The server lets nothing but ``HELLO`` and ``AUTH`` through
until it has, and only for ``--handshake-timeout`` seconds; from its ``OK`` on, every frame
either way is tagged with the session's keys (:mod:`~kenning.runtimeprotocols.frameauth`).
"""

from __future__ import annotations

import time
from typing import Any

from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.errors import AuthenticationError
from kenning.runtimeprotocols.frameauth import session_keys
from kenning.runtimeprotocols.handshake import (
    NONCE_SIZE,
    PROOF_SIZE,
    host_proof,
    nonce,
    same,
    target_proof,
)
from kenning.runtimeprotocols.wire import FrameHeader, MessageType

#: the largest message each type may be, whatever --max-payload-size says
LIMITS = {
    int(MessageType.HELLO): NONCE_SIZE,
    int(MessageType.AUTH): PROOF_SIZE,
    int(MessageType.PROCESS): 0,
    int(MessageType.OUTPUT): 0,
    int(MessageType.STATS): 0,
    int(MessageType.IOSPEC): 1 << 20,
    int(MessageType.OK): 1 << 16,
    int(MessageType.ERROR): 1 << 16,
}


class Gate:
    """One connection's handshake on the target.

    Parameters
    ----------
    secret : bytes
        The run's secret (empty: none was given, the exchange proves nothing).
    suite : int
        The suite this server tags frames with after the handshake (``frameauth``).
    """

    def __init__(self, secret: bytes, suite: int) -> None:
        self.secret = secret
        self.suite = suite
        self.open = False
        #: the session's keys, once the host proved the secret
        self.keys: dict[str, bytes] = {}
        self._client = self._server = b""

    def reset(self) -> None:
        """A new host: it has proved nothing yet."""
        self.open = False
        self.keys = {}
        self._client = self._server = b""

    def admit(self) -> None:
        """The host proved the secret already (the transport ran the handshake)."""
        self.open = True

    def hello(self, payload: Buffer) -> bytes:
        """Answer a host's HELLO: the server's fresh nonce and its frame suite.

        Raises
        ------
        AuthenticationError
            If the HELLO does not carry a nonce.
        """
        self.reset()
        if len(payload) != NONCE_SIZE:
            raise AuthenticationError(
                f"HELLO carries {len(payload)} bytes, not a {NONCE_SIZE}-byte nonce"
            )
        self._client, self._server = bytes(payload), nonce()
        return self._server + bytes([self.suite])

    def auth(self, payload: Buffer) -> bytes:
        """Check a host's AUTH; the server's own proof for the OK.

        Raises
        ------
        AuthenticationError
            If no HELLO came first, or the proof is not made with this server's secret.
        """
        if not self._server:
            raise AuthenticationError("AUTH before HELLO: send HELLO first (docs/protocol.md)")
        if not same(payload, host_proof(self.secret, self._server, self._client, self.suite)):
            self.reset()
            raise AuthenticationError(
                "authentication failed: the host does not hold this run's secret "
                "(a host of another run, or a missing or wrong --secret-file)"
            )
        self.open = True
        self.keys = session_keys(self.secret, self._client, self._server, self.suite)
        return target_proof(self.secret, self._client, self._server, self.suite)

    @staticmethod
    def start(protocol: Any, seconds: float) -> None:
        """Give the host ``seconds`` from now to finish the handshake on ``protocol``."""
        reader = protocol.reader
        reader.deadline = time.monotonic() + seconds
        reader.deadline_what = f"the handshake (HELLO, AUTH) within {seconds:g} s"

    def answer(self, protocol: Any, header: FrameHeader, seconds: float) -> None:
        """Read the HELLO or AUTH that ``header`` starts and answer it on ``protocol``.

        Raises
        ------
        AuthenticationError
            As :meth:`hello` and :meth:`auth`.
        """
        message = protocol.reader.read_body(header, protocol.timeout)
        if message.type == MessageType.HELLO:
            protocol.stop_tagging()  # the session so far ends here
            if not protocol.has_connections:  # a new host on a serial line starts here
                self.start(protocol, seconds)
            protocol.send_message(MessageType.HELLO, self.hello(message.payload))
            return
        proof = self.auth(message.payload)
        protocol.reader.deadline = None
        protocol.send_message(MessageType.OK, proof)
        protocol.start_tagging(self.suite, self.keys, "target")

    @staticmethod
    def refuse(type_name: str) -> AuthenticationError:
        """The error for a request that came before the handshake."""
        return AuthenticationError(
            f"{type_name} before the handshake: a host must send HELLO and AUTH first, "
            "proving it holds this run's secret (docs/protocol.md)"
        )

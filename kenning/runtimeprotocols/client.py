"""The host side of a session: upload a model, send inputs, collect outputs and statistics.

Each method sends one request and waits for its reply (each wait bounded by
the protocol's ``--timeout``); an ``ERROR`` reply raises
:class:`~kenning.runtimeprotocols.errors.RemoteError` with the target's reason.
See ``docs/protocol.md`` for the message flow.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from kenning.core.firmwaremodel import firmware_model_sha256
from kenning.core.iospec import IOSpec
from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.errors import (
    AuthenticationError,
    ConnectionClosedError,
    ProtocolTimeoutError,
    RemoteError,
    UnexpectedMessageError,
)
from kenning.runtimeprotocols.frameauth import NONE, SUITES, session_keys
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.handshake import NONCE_SIZE, host_proof, nonce, same, target_proof
from kenning.runtimeprotocols.requests import TARGET_TIME
from kenning.runtimeprotocols.wire import Message, MessageType, encode_frame
from kenning.utils.errors import ModelError, ProtocolError

log = logging.getLogger("kenning.client")

#: seconds between attempts while the target is busy with another host
_BUSY_RETRY_S = 0.25


class ProtocolClient:
    """Drives an inference session on a target over a protocol.

    Parameters
    ----------
    protocol : FramedProtocol
        The transport, not yet connected.
    """

    def __init__(self, protocol: FramedProtocol) -> None:
        self.protocol = protocol
        self._waited = False
        #: what the target said about itself when the model loaded
        self.target_info: dict[str, Any] = {}

    def connect(self) -> None:
        """Connect to the target and prove, both ways, that each side holds the run's secret.

        A target busy with another host says so at once; the connection is retried
        until ``--timeout`` has passed (a host that skips the handshake is dropped by
        then), with one line on the log.

        Raises
        ------
        RemoteError
            If the target refuses (still ``busy: serving ...``, or a wrong secret).
        AuthenticationError
            If the target does not prove it holds the secret (another server on the port).
        """
        protocol = self.protocol
        secret = protocol.secret  # a bad --secret-file fails before connecting
        deadline = time.monotonic() + protocol.timeout
        while True:
            try:
                self._connect_once(secret)
                return
            except RemoteError as exc:
                if not exc.reason.startswith("busy:") or time.monotonic() >= deadline:
                    raise
                if not self._waited:
                    log.warning(
                        "target %s: %s; retrying for up to %g s",
                        protocol.describe(),
                        exc.reason,
                        protocol.timeout,
                    )
                self._waited = True
                time.sleep(_BUSY_RETRY_S)

    def _connect_once(self, secret: bytes) -> None:
        protocol = self.protocol
        protocol.initialize_client()
        try:
            ours = nonce()
            hello = self.request(MessageType.HELLO, ours, expect=MessageType.HELLO)
            if len(hello) != NONCE_SIZE + 1:
                raise UnexpectedMessageError(
                    f"the target's HELLO has {len(hello)} bytes, not a {NONCE_SIZE}-byte nonce "
                    "and a frame suite (a server of another protocol version?)"
                )
            theirs, suite = bytes(hello[:NONCE_SIZE]), hello[NONCE_SIZE]
            if suite not in SUITES:
                raise UnexpectedMessageError(f"the target tags frames with unknown suite {suite}")
            proof = self.request(MessageType.AUTH, host_proof(secret, theirs, ours, suite))
            if not same(proof, target_proof(secret, ours, theirs, suite)):
                raise AuthenticationError(
                    f"the server at {protocol.describe()} does not hold this run's secret: it "
                    "is not the server started for this run (another program on that port?)"
                )
            if suite == NONE and not protocol.private_line():
                raise AuthenticationError(
                    f"the server at {protocol.describe()} does not authenticate frames, on a "
                    "line others may reach; start it without --frame-auth none"
                )
            protocol.start_tagging(suite, session_keys(secret, ours, theirs, suite), "host")
        except BaseException:
            protocol.close()
            raise

    def close(self) -> None:
        """End the session."""
        self.protocol.close()

    def __enter__(self) -> ProtocolClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- replies -------------------------------------------------------------------
    def _reply(self, request: str, expect: MessageType = MessageType.OK) -> Message:
        """The next message, which must be ``expect``; ERROR raises :class:`RemoteError`."""
        try:
            message = self.protocol.receive_message()
        except ProtocolTimeoutError as exc:
            raise ProtocolTimeoutError(f"the reply to {request}", exc.timeout) from exc
        if message.type == expect:
            return message
        if message.type == MessageType.ERROR:
            raise RemoteError(request, bytes(message.payload).decode(errors="replace"))
        raise UnexpectedMessageError(f"target answered {request} with {message.type.name}")

    def _raise_early_error(self, request: str) -> None:
        """If the target answered ERROR before it hung up on a request, raise that."""
        try:
            message = self.protocol.receive_message(timeout=1.0)
        except ProtocolError:
            return
        if message.type == MessageType.ERROR:
            raise RemoteError(request, bytes(message.payload).decode(errors="replace"))

    def request(
        self, type: MessageType, payload: Buffer = b"", expect: MessageType = MessageType.OK
    ) -> bytes | bytearray:
        """Send one request and return the payload of its reply (OK, or ``expect``).

        Raises
        ------
        RemoteError
            If the target answers ERROR.
        ProtocolTimeoutError, ConnectionClosedError, FrameError
            If no valid reply arrives.
        """
        self.protocol.send_message(type, payload)
        reply = self._reply(type.name, expect).payload
        return reply if not isinstance(reply, memoryview) else bytes(reply)

    # -- session -------------------------------------------------------------------
    def upload_io_spec(self, spec: IOSpec) -> None:
        """Tell the target the layout of the model's input and output tensors."""
        self.request(MessageType.IOSPEC, spec.model_dump_json().encode())

    def upload_model(self, path: Path) -> dict[str, Any]:
        """Stream a model file in ``packet_size`` chunks; return the target's description.

        A folder is a model built into the target's firmware (a microcontroller): MODEL then
        carries the model's SHA-256 alone, and the target answers whether it holds that model.

        Raises
        ------
        ModelError
            If the file cannot be read or changes while it is sent.
        RemoteError
            If the target cannot store or load it.
        """
        protocol = self.protocol
        path = Path(path)
        if path.is_dir():  # a model built into the firmware: name it, do not send it
            digest = bytes.fromhex(firmware_model_sha256(path))
            self.target_info = json.loads(bytes(self.request(MessageType.MODEL, digest)) or b"{}")
            return self.target_info
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise ModelError(f"cannot read model {path}: {exc.strerror}", path) from exc
        with handle:
            total = os.fstat(handle.fileno()).st_size
            buffer = memoryview(bytearray(min(max(total, 1), protocol.packet_size)))
            sent = 0
            while True:
                count = handle.readinto(buffer) or 0
                chunk = buffer[:count]
                sent += count
                if (count == 0 and sent < total) or sent > total:
                    raise ModelError(f"{path} changed size while it was being sent", path)
                more = sent < total
                frame = encode_frame(MessageType.MODEL, more, total, chunk, protocol.tagger)
                try:
                    protocol.write(frame)
                except ConnectionClosedError:
                    self._raise_early_error("MODEL")
                    raise
                if not more:
                    break
        self.target_info = json.loads(bytes(self._reply("MODEL").payload) or b"{}")
        return self.target_info

    def upload_input(self, data: Buffer) -> None:
        """Send one batch of serialised inputs (DATA)."""
        self.request(MessageType.DATA, data)

    def request_processing(self) -> tuple[float, float]:
        """Run inference on the target (PROCESS).

        Returns
        -------
        tuple of float
            Host-observed seconds from the first OK (started) to the second
            (finished), and the target's own measurement of the inference.
        """
        self.protocol.send_message(MessageType.PROCESS)
        self._reply("PROCESS")
        start = time.perf_counter()
        finished = self._reply("PROCESS").payload
        host = time.perf_counter() - start
        if len(finished) != TARGET_TIME.size:
            raise UnexpectedMessageError(
                f"second OK to PROCESS carries {len(finished)} bytes, not the target time"
            )
        return host, TARGET_TIME.unpack(finished)[0]

    def download_output(self) -> bytes | bytearray:
        """Fetch the outputs of the last inference (OUTPUT)."""
        return self.request(MessageType.OUTPUT)

    def download_statistics(self) -> dict[str, Any]:
        """Fetch the target's statistics since the previous STATS request."""
        payload = self.request(MessageType.STATS)
        try:
            stats = json.loads(bytes(payload))
        except ValueError as exc:
            raise UnexpectedMessageError(f"STATS reply is not JSON: {exc}") from exc
        if not isinstance(stats, dict):
            raise UnexpectedMessageError("STATS reply is not a JSON object")
        return stats

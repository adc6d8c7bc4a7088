"""The host side of a session: upload a model, send inputs, collect outputs and statistics.

Each method sends one request and waits for its reply (each wait bounded by
the protocol's ``--timeout``); an ``ERROR`` reply raises
:class:`~kenning.runtimeprotocols.errors.RemoteError` with the target's reason.
See ``docs/protocol.md`` for the message flow.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path
from typing import Any

from kenning.core.iospec import IOSpec
from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.errors import (
    ConnectionClosedError,
    ProtocolTimeoutError,
    RemoteError,
    UnexpectedMessageError,
)
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.server import TARGET_TIME
from kenning.runtimeprotocols.wire import Flags, Message, MessageType, encode_header
from kenning.utils.errors import ModelError, ProtocolError


class ProtocolClient:
    """Drives an inference session on a target over a protocol.

    Parameters
    ----------
    protocol : FramedProtocol
        The transport, not yet connected.
    """

    def __init__(self, protocol: FramedProtocol) -> None:
        self.protocol = protocol
        #: what the target said about itself when the model loaded
        self.target_info: dict[str, Any] = {}

    def connect(self) -> None:
        """Connect to the target."""
        self.protocol.initialize_client()

    def close(self) -> None:
        """End the session."""
        self.protocol.close()

    def __enter__(self) -> ProtocolClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- replies -------------------------------------------------------------------
    def _reply(self, request: str) -> Message:
        """The next message, which must be OK; ERROR raises :class:`RemoteError`."""
        try:
            message = self.protocol.receive_message()
        except ProtocolTimeoutError as exc:
            raise ProtocolTimeoutError(f"the reply to {request}", exc.timeout) from exc
        if message.type == MessageType.OK:
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

    def request(self, type: MessageType, payload: Buffer = b"") -> bytes | bytearray:
        """Send one request and return the payload of its OK reply.

        Raises
        ------
        RemoteError
            If the target answers ERROR.
        ProtocolTimeoutError, ConnectionClosedError, FrameError
            If no valid reply arrives.
        """
        self.protocol.send_message(type, payload)
        return self._reply(type.name).payload

    # -- session -------------------------------------------------------------------
    def upload_io_spec(self, spec: IOSpec) -> None:
        """Tell the target the layout of the model's input and output tensors."""
        self.request(MessageType.IOSPEC, spec.model_dump_json().encode())

    def upload_model(self, path: Path) -> dict[str, Any]:
        """Stream a model file in ``packet_size`` chunks; return the target's description.

        Raises
        ------
        ModelError
            If the file cannot be read or changes while it is sent.
        RemoteError
            If the target cannot store or load it.
        """
        protocol = self.protocol
        path = Path(path)
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
                more = Flags.MORE if sent < total else Flags.NONE
                header = encode_header(MessageType.MODEL, more, total, count, zlib.crc32(chunk))
                try:
                    protocol.write([header, chunk] if count else [header])
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

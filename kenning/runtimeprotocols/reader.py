"""Reading checked frames and messages off a byte stream.

:class:`FrameReader` sits between a transport (which only moves bytes) and a
session: it buffers what the transport delivers, decodes and checks headers
with :func:`kenning.runtimeprotocols.wire.decode_header` and hands out whole,
checked messages; a payload of many frames is read by its base,
:class:`~kenning.runtimeprotocols.payloads.PayloadReader`. It turns silence or a close
inside a frame into a truncated-frame error, and between frames into a timeout or a
clean close. A message's header must be complete ``2 * timeout`` seconds after its
first byte; the owner may set an overall :attr:`FrameReader.deadline` too (the server's
handshake).

After the handshake the session sets :attr:`FrameReader.tagger`: from then on every frame
must carry its tag (:mod:`kenning.runtimeprotocols.frameauth`), checked once the frame's
payload is in; a frame without one (but a ``HELLO``, which starts a new handshake) or with
a wrong one raises :class:`~kenning.runtimeprotocols.errors.ForgedFrameError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from kenning.runtimeprotocols.errors import ForgedFrameError, FrameError
from kenning.runtimeprotocols.frameauth import TAG_SIZE
from kenning.runtimeprotocols.payloads import PayloadReader
from kenning.runtimeprotocols.stream import ReadSome
from kenning.runtimeprotocols.wire import (
    HEADER_SIZE,
    TAGGED,
    FrameHeader,
    Message,
    MessageType,
    decode_header,
    message_type,
    type_name,
)


class FrameReader(PayloadReader):
    """Reads frames from a byte stream through a small buffer.

    Parameters
    ----------
    read_some : callable
        The transport's read: fills a prefix of the view (at least one byte),
        returns the count, raises :class:`ProtocolTimeoutError` or
        :class:`ConnectionClosedError`.
    max_payload_size : int
        Longer messages are rejected before their payload is read.
    buffer_size : int
        Bytes read ahead; small payloads arrive in the same read as their header.
    min_rate : float or None
        Bytes per second a message's payload must at least arrive at (its deadline is
        ``timeout + length / min_rate``); ``None``: no per-message deadline.
    limits : mapping of int to int, optional
        Largest message per type, below ``max_payload_size`` (e.g. a request with no
        payload); a longer one is rejected from its header.
    """

    def __init__(
        self,
        read_some: ReadSome,
        max_payload_size: int,
        buffer_size: int = 1 << 16,
        min_rate: float | None = None,
        limits: Mapping[int, int] | None = None,
    ) -> None:
        super().__init__(read_some, max(buffer_size, HEADER_SIZE), min_rate)
        self.max_payload_size = max_payload_size
        self.limits: Mapping[int, int] = dict(limits or {})

    def read_header(
        self, timeout: float | None, first_timeout: float | None = None
    ) -> FrameHeader:
        """Read and check one frame header.

        Parameters
        ----------
        timeout : float or None
            Limit for the rest of the header once its first byte arrived.
        first_timeout : float or None
            Limit for the first byte (idle time between messages); defaults
            to ``timeout``.

        Raises
        ------
        ProtocolTimeoutError, ConnectionClosedError
            If nothing arrives, or the peer closes between frames.
        FrameError
            If the header is bad or arrives only in part.
        """
        start = self._start
        if self._end - start < HEADER_SIZE:
            if self._end == start:
                self._fill(1, first_timeout if first_timeout is not None else timeout, "", True)
            if self._end - self._start < HEADER_SIZE:  # usually the whole frame came at once
                if timeout is not None and self._message_deadline is None:  # silent: truncated
                    self._start_message(2 * timeout, "a whole frame header")
                self._fill(HEADER_SIZE, timeout, "frame header")
            start = self._start
        raw = self._view[start : start + HEADER_SIZE]
        header = decode_header(raw, self.max_payload_size)
        self._start = start + HEADER_SIZE
        if header.tagged:
            if self.tagger is None:
                raise FrameError("flags", "a tagged frame before the handshake")
            self._header = bytes(raw)
        elif self.tagger is not None and header.type != MessageType.HELLO:
            raise ForgedFrameError(-1, self.tagger.name)  # a HELLO starts a new handshake
        limit = self.limits.get(header.type)
        if limit is not None and header.message_length > limit:
            raise FrameError(
                "oversized",
                f"{type_name(header.type)} message of {header.message_length} bytes exceeds "
                f"the {limit} bytes a {type_name(header.type)} may carry",
            )
        return header

    def read_body(
        self, header: FrameHeader, timeout: float | None, into: memoryview | None = None
    ) -> Message:
        """The rest of the message that ``header`` starts, checked, as a whole.

        ``into`` (as long as the message) receives the payload in place of a new buffer: a
        server reads an input straight into the memory its model reads it from.

        Raises
        ------
        FrameError
            For every wire-format violation, including an unknown type
            (``kind="type"``, stream still in sync).
        ProtocolTimeoutError, ConnectionClosedError
            As :meth:`read_header`.
        """
        start, length = self._start, header.payload_length
        tag = TAG_SIZE if header.tagged else 0
        if not header.more and self._end - start >= length + tag:  # all buffered: usual
            view = self._view[start : start + length]
            self._start = start + length + tag
            self._message_deadline = None
            if length != header.message_length:
                raise FrameError(
                    "sequence", f"{length}-byte frame ends a {header.message_length}-byte message"
                )
            payload: bytes | bytearray | memoryview = bytes(view) if into is None else into
            if into is not None:
                into[:] = view
            tagger = self.tagger if tag else None
            if tagger is not None:  # the tag checks the payload (its CRC field is 0)
                tagger.check(self._header, view, self._view[start + length : self._start])
            elif zlib.crc32(payload) != header.payload_crc:
                raise FrameError(
                    "checksum",
                    f"payload checksum mismatch in {type_name(header.type)} frame",
                    in_sync=True,
                )
        else:
            payload = self.read_payload(header, timeout, into)
        kind = message_type(header.type)
        if kind is None:
            raise FrameError("type", f"unknown message type {type_name(header.type)}", True)
        return Message(kind, payload)

    def read_message(self, timeout: float | None, first_timeout: float | None = None) -> Message:
        """Read one whole message (:meth:`read_header`, then :meth:`read_body`).

        A message of one frame that came whole in one read (a reply, usually) is checked
        and taken in one step: the same checks, fewer calls per message.
        """
        if self._end == self._start:
            self._fill(1, first_timeout if first_timeout is not None else timeout, "", True)
        whole = self._whole_frame()
        if whole is not None:
            return whole
        return self.read_body(self.read_header(timeout, first_timeout), timeout)

    def _whole_frame(self) -> Message | None:
        """The next message if it is one frame, all buffered and sound; else ``None``.

        The header is checked by :func:`~kenning.runtimeprotocols.wire.decode_header`, as
        :meth:`read_header` checks it first (its error is the same); a frame that is not
        one whole frame of this session's tagging, or over its type's limit, returns
        ``None`` untouched, for :meth:`read_header` and :meth:`read_body` to take and judge.
        A wrong tag raises here.
        """
        start, end, view, tagger = self._start, self._end, self._view, self.tagger
        if end - start < HEADER_SIZE:
            return None
        header = decode_header(view[start : start + HEADER_SIZE], self.max_payload_size)
        tag = TAG_SIZE if tagger is not None else 0
        length, body = header.payload_length, start + HEADER_SIZE
        if (
            header.flags != (TAGGED if tag else 0)
            or length != header.message_length
            or end - body < length + tag
            or length > self.limits.get(header.type, length)
        ):
            return None
        kind = message_type(header.type)
        if kind is None:
            return None
        payload = view[body : body + length]
        self._start = body + length + tag
        self._message_deadline = None
        if tagger is not None:
            tagger.check(bytes(view[start:body]), payload, view[body + length : self._start])
        elif zlib.crc32(payload) != header.payload_crc:
            self._start = start  # read_body reports it, as for any frame
            return None
        return Message(kind, bytes(payload))

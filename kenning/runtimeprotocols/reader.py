"""Reading checked frames and messages off a byte stream.

:class:`FrameReader` sits between a transport (which only moves bytes) and a
session: it buffers what the transport delivers, decodes and checks headers
with :func:`kenning.runtimeprotocols.wire.decode_header`, reassembles chunked
messages and checks every payload CRC. It turns silence or a close inside a
frame into a truncated-frame error, and between frames into a timeout or a
clean close.

Two limits keep a peer from holding a reader or its memory: a message's payload
is taken in pieces of at most :data:`PIECE` bytes, so memory grows only as bytes
arrive (a header claiming 256 MiB costs nothing until they come), and each
message has a deadline: its header must be complete ``2 * timeout`` seconds after
its first byte, and its payload ``timeout + length / min_rate`` seconds after
the header (a peer dripping a byte every few seconds is dropped, whatever the
per-read timeout). The owner may set an overall :attr:`FrameReader.deadline`
too (the server's handshake).

After the handshake the session sets :attr:`FrameReader.tagger`: from then on every frame
must carry its tag (:mod:`kenning.runtimeprotocols.frameauth`), checked once the frame's
payload is in; a frame without one (but a ``HELLO``, which starts a new handshake) or with
a wrong one raises :class:`~kenning.runtimeprotocols.errors.ForgedFrameError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

from kenning.runtimeprotocols.errors import ForgedFrameError, FrameError
from kenning.runtimeprotocols.frameauth import TAG_SIZE, FrameTagger
from kenning.runtimeprotocols.stream import ByteStream, ReadSome
from kenning.runtimeprotocols.wire import (
    HEADER_SIZE,
    FrameHeader,
    Message,
    MessageType,
    decode_header,
    message_type,
    type_name,
)

#: largest piece of a payload read (and held) at once before more bytes have arrived
PIECE = 1 << 20
#: a message up to this size is read straight into one buffer allocated from its header
PREALLOCATE = 4 << 20


class FrameReader(ByteStream):
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
        super().__init__(read_some, max(buffer_size, HEADER_SIZE))
        self.max_payload_size = max_payload_size
        self.min_rate = min_rate
        self.limits: Mapping[int, int] = dict(limits or {})
        #: checks the tags of the peer's frames once the handshake is done
        self.tagger: FrameTagger | None = None
        self._header = b""  # the raw header of the frame being read, when it is tagged
        self._tag = memoryview(bytearray(TAG_SIZE))

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

    def _begin_body(self, header: FrameHeader, timeout: float | None) -> None:
        """Start the deadline of the payload that ``header`` announces."""
        if timeout is None or self.min_rate is None:
            self._message_deadline = None
            return
        seconds = timeout + header.message_length / self.min_rate
        self._start_message(
            seconds, f"the {header.message_length}-byte {type_name(header.type)} message"
        )

    def iter_payload(self, first: FrameHeader, timeout: float | None) -> Iterator[memoryview]:
        """Yield the payload of the message that ``first`` starts, piece by piece.

        Pieces are views of a reused buffer of at most :data:`PIECE` bytes, valid until
        the next iteration; a frame's checksum is known once its last piece has been
        read, so a consumer keeps nothing until the iteration ends without an error.

        Parameters
        ----------
        first : FrameHeader
            The message's first header, from :meth:`read_header`.
        timeout : float or None
            Limit for each read (the message's deadline applies too).

        Raises
        ------
        FrameError
            If a frame fails its checksum (raised once the whole message has been
            consumed, so the stream stays in sync), or a continuation frame does not
            continue this message.
        DeadlineError
            If the message is not complete by its deadline.
        """
        self._begin_body(first, timeout)
        try:
            yield from self._pieces(first, timeout)
        finally:
            self._message_deadline = None

    def _pieces(
        self, first: FrameHeader, timeout: float | None, into: memoryview | None = None
    ) -> Iterator[memoryview]:
        header, offset, bad = first, 0, ""
        scratch = (
            into if into is not None else memoryview(bytearray(min(first.message_length, PIECE)))
        )
        while True:
            crc, left = 0, header.payload_length
            tagger = self.tagger if header.tagged else None
            pieces = tagger.pieces(self._header) if tagger and into is None else None
            while left:
                if into is not None:  # the whole frame, in place
                    start = offset + header.payload_length - left
                    piece = into[start : start + left]
                else:
                    piece = scratch[: min(left, PIECE)]
                self.read_exact(piece, timeout)
                if pieces is not None:
                    pieces.update(piece)
                elif tagger is None:
                    crc = zlib.crc32(piece, crc)
                left -= len(piece)
                yield piece
            if tagger is not None:  # the tag checks the payload (its CRC field is 0)
                self.read_exact(self._tag, timeout)
                if pieces is not None:
                    pieces.check(self._tag)
                else:
                    end = offset + header.payload_length
                    tagger.check(self._header, into[offset:end], self._tag)  # type: ignore[index]
            elif not bad and crc != header.payload_crc:
                bad = (
                    f"payload checksum mismatch in {type_name(first.type)} frame at byte {offset}"
                )
            offset += header.payload_length
            more = header.more
            if more != (offset < first.message_length):
                raise FrameError(
                    "sequence",
                    f"message ends at byte {offset} of "
                    f"{first.message_length} (MORE flag {'set' if more else 'clear'})",
                )
            if not more:
                break
            header = self.read_header(timeout)
            if header.type != first.type or header.message_length != first.message_length:
                raise FrameError(
                    "sequence",
                    f"{type_name(header.type)} frame of a {header.message_length}-byte message "
                    f"inside a {first.message_length}-byte {type_name(first.type)} message",
                )
            if offset + header.payload_length > first.message_length:
                raise FrameError("sequence", "frame runs past the end of its message")
        if bad:
            raise FrameError("checksum", bad, in_sync=True)

    def read_payload(
        self, first: FrameHeader, timeout: float | None, into: memoryview | None = None
    ) -> bytes | bytearray | memoryview:
        """The whole payload of the message that ``first`` starts (see :meth:`iter_payload`).

        A message up to :data:`PREALLOCATE` bytes is read straight into one buffer (``into``,
        of the message's length, when given); a longer one into a buffer that grows as its
        bytes arrive, never ahead of them.
        """
        if into is not None or first.message_length <= PREALLOCATE:
            whole = bytearray(first.message_length) if into is None else into
            self._begin_body(first, timeout)
            try:
                for _ in self._pieces(first, timeout, memoryview(whole)):
                    pass
            finally:
                self._message_deadline = None
            return whole
        grown = bytearray()
        for piece in self.iter_payload(first, timeout):
            grown += piece
        return grown

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
        """Read one whole message (:meth:`read_header`, then :meth:`read_body`)."""
        return self.read_body(self.read_header(timeout, first_timeout), timeout)

"""Reading a message's payload, frame by frame, as its bytes arrive.

:class:`PayloadReader` is the part of :class:`~kenning.runtimeprotocols.reader.FrameReader`
that takes a message's payload once its first header is read: it reassembles the frames
of a chunked message, checks every frame's CRC (or, after the handshake, its tag) and
keeps two limits so that a peer cannot hold a reader or its memory. A payload is taken in
pieces of at most :data:`PIECE` bytes, so memory grows only as bytes arrive (a header
claiming 256 MiB costs nothing until they come); and it must arrive by its deadline,
``timeout + length / min_rate`` seconds after the header (a peer dripping a byte every few
seconds is dropped, whatever the per-read timeout).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from kenning.runtimeprotocols.errors import FrameError
from kenning.runtimeprotocols.frameauth import TAG_SIZE, FrameTagger
from kenning.runtimeprotocols.stream import ByteStream, ReadSome
from kenning.runtimeprotocols.wire import FrameHeader, type_name

#: largest piece of a payload read (and held) at once before more bytes have arrived
PIECE = 1 << 20
#: a message up to this size is read straight into one buffer allocated from its header
PREALLOCATE = 4 << 20


class PayloadReader(ByteStream):
    """The payloads of messages whose first header was read (see :class:`FrameReader`).

    Parameters
    ----------
    read_some : callable
        The transport's read (see :class:`~kenning.runtimeprotocols.stream.ByteStream`).
    buffer_size : int
        Bytes read ahead.
    min_rate : float or None
        Bytes per second a message's payload must at least arrive at; ``None``: no
        per-message deadline.
    """

    def __init__(self, read_some: ReadSome, buffer_size: int, min_rate: float | None) -> None:
        super().__init__(read_some, buffer_size)
        self.min_rate = min_rate
        #: checks the tags of the peer's frames once the handshake is done
        self.tagger: FrameTagger | None = None
        self._header = b""  # the raw header of the frame being read, when it is tagged
        self._tag = memoryview(bytearray(TAG_SIZE))

    def read_header(
        self, timeout: float | None, first_timeout: float | None = None
    ) -> FrameHeader:
        """The next frame's header, checked (a continuation frame's, here)."""
        raise NotImplementedError

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

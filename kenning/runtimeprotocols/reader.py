"""Reading checked frames and messages off a byte stream.

:class:`FrameReader` sits between a transport (which only moves bytes) and a
session: it buffers what the transport delivers, decodes and checks headers
with :func:`kenning.runtimeprotocols.wire.decode_header`, reassembles chunked
messages and checks every payload CRC. It turns silence or a close inside a
frame into a truncated-frame error, and between frames into a timeout or a
clean close.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

from kenning.runtimeprotocols.errors import (
    ConnectionClosedError,
    FrameError,
    ProtocolTimeoutError,
)
from kenning.runtimeprotocols.wire import (
    HEADER_SIZE,
    FrameHeader,
    Message,
    decode_header,
    message_type,
    type_name,
)

#: reads at least one byte into the view within the timeout and returns how many
ReadSome = Callable[[memoryview, float | None], int]


class FrameReader:
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
    """

    def __init__(
        self, read_some: ReadSome, max_payload_size: int, buffer_size: int = 1 << 16
    ) -> None:
        self.read_some = read_some
        self.max_payload_size = max_payload_size
        self._buf = bytearray(max(buffer_size, HEADER_SIZE))
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0

    def reset(self) -> None:
        """Forget buffered bytes (after the stream lost sync)."""
        self._start = self._end = 0

    def _fill(
        self, need: int, timeout: float | None, what: str, idle: bool = False, done: int = 0
    ) -> None:
        """Buffer at least ``need`` bytes of ``what`` (of which ``done`` were already taken).

        ``idle`` means that nothing of a frame has arrived yet, so a close or
        a timeout is not a truncated frame.
        """
        if self._end - self._start >= need:
            return
        if len(self._buf) - self._start < need:
            size = self._end - self._start
            self._view[:size] = self._view[self._start : self._end]
            self._start, self._end = 0, size
        while self._end - self._start < need:
            got = self._end - self._start
            try:
                self._end += self.read_some(self._view[self._end :], timeout)
            except ConnectionClosedError as exc:
                if idle and got == 0:
                    raise
                raise ConnectionClosedError(
                    f"connection closed {done + got} bytes into {what} ({exc})", mid_frame=True
                ) from exc
            except ProtocolTimeoutError:
                if idle and got == 0:
                    raise
                raise FrameError(
                    "truncated",
                    f"truncated {what}: {done + got} of {done + need} bytes arrived, then "
                    f"nothing for {timeout} s",
                ) from None

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
            self._fill(HEADER_SIZE, timeout, "frame header")
            start = self._start
        header = decode_header(self._view[start : start + HEADER_SIZE], self.max_payload_size)
        self._start = start + HEADER_SIZE
        return header

    def read_exact(self, target: memoryview, timeout: float | None) -> None:
        """Fill ``target`` with the next bytes of the stream (a frame payload).

        Raises
        ------
        FrameError
            If the bytes stop coming for ``timeout`` seconds (``kind="truncated"``).
        ConnectionClosedError
            If the peer closes first.
        """
        size = len(target)
        have = min(size, self._end - self._start)
        target[:have] = self._view[self._start : self._start + have]
        self._start += have
        if have == size:
            return
        rest = size - have
        if rest + HEADER_SIZE <= len(self._buf) // 2:
            self._fill(rest, timeout, "frame payload", done=have)
            target[have:] = self._view[self._start : self._start + rest]
            self._start += rest
            return
        while have < size:  # large: straight into the target, no extra copy
            try:
                have += self.read_some(target[have:], timeout)
            except ConnectionClosedError as exc:
                raise ConnectionClosedError(
                    f"connection closed {have} of {size} bytes into a frame payload ({exc})",
                    mid_frame=True,
                ) from exc
            except ProtocolTimeoutError:
                raise FrameError(
                    "truncated",
                    f"truncated frame payload: {have} of {size} bytes arrived, then "
                    f"nothing for {timeout} s",
                ) from None

    def iter_payload(
        self, first: FrameHeader, timeout: float | None, into: memoryview | None = None
    ) -> Iterator[memoryview]:
        """Yield the checked payload chunks of the message that ``first`` starts.

        Parameters
        ----------
        first : FrameHeader
            The message's first header, from :meth:`read_header`.
        timeout : float or None
            Limit for each read.
        into : memoryview, optional
            Where to place the whole payload (``message_length`` bytes); chunks
            are views of it. Without it, chunks are views of a reused buffer
            valid until the next iteration.

        Raises
        ------
        FrameError
            If a chunk fails its checksum (raised once the whole message has
            been consumed, so the stream stays in sync), or a continuation
            frame does not continue this message.
        """
        header, offset, bad = first, 0, ""
        scratch = memoryview(bytearray(0)) if into is None else into
        while True:
            length = header.payload_length
            if into is not None:
                chunk = into[offset : offset + length]
            else:
                if len(scratch) < length:
                    scratch = memoryview(bytearray(length))
                chunk = scratch[:length]
            self.read_exact(chunk, timeout)
            if not bad and zlib.crc32(chunk) != header.payload_crc:
                bad = (
                    f"payload checksum mismatch in {type_name(first.type)} frame at byte {offset}"
                )
            offset += length
            if not bad:
                yield chunk
            more = bool(header.flags)
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

    def read_payload(self, first: FrameHeader, timeout: float | None) -> bytes | bytearray:
        """The whole payload of the message that ``first`` starts (see :meth:`iter_payload`)."""
        if first.message_length == 0:
            for _ in self.iter_payload(first, timeout):
                pass
            return b""
        payload = bytearray(first.message_length)
        for _ in self.iter_payload(first, timeout, memoryview(payload)):
            pass
        return payload

    def read_body(self, header: FrameHeader, timeout: float | None) -> Message:
        """The rest of the message that ``header`` starts, checked, as a whole.

        Raises
        ------
        FrameError
            For every wire-format violation, including an unknown type
            (``kind="type"``, stream still in sync).
        ProtocolTimeoutError, ConnectionClosedError
            As :meth:`read_header`.
        """
        start, length = self._start, header.payload_length
        if not header.flags and self._end - start >= length:  # all buffered: the usual case
            payload: bytes | bytearray = bytes(self._view[start : start + length])
            self._start = start + length
            if length != header.message_length:
                raise FrameError(
                    "sequence", f"{length}-byte frame ends a {header.message_length}-byte message"
                )
            if zlib.crc32(payload) != header.payload_crc:
                raise FrameError(
                    "checksum",
                    f"payload checksum mismatch in {type_name(header.type)} frame",
                    in_sync=True,
                )
        else:
            payload = self.read_payload(header, timeout)
        kind = message_type(header.type)
        if kind is None:
            raise FrameError("type", f"unknown message type {type_name(header.type)}", True)
        return Message(kind, payload)

    def read_message(self, timeout: float | None, first_timeout: float | None = None) -> Message:
        """Read one whole message (:meth:`read_header`, then :meth:`read_body`)."""
        return self.read_body(self.read_header(timeout, first_timeout), timeout)

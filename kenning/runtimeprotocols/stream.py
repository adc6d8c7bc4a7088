"""A buffered byte stream with per-read timeouts and deadlines, under the frame reader.

:class:`ByteStream` reads what a transport delivers into a small buffer and hands out
exact byte counts. Every read is bounded by its per-read ``timeout`` and by whichever
deadline comes first: the current message's (set by the frame reader) or an overall one
the owner sets (:attr:`ByteStream.deadline`, e.g. the server's handshake).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kenning.runtimeprotocols.errors import (
    ConnectionClosedError,
    DeadlineError,
    FrameError,
    ProtocolTimeoutError,
)

#: reads at least one byte into the view within the timeout and returns how many
ReadSome = Callable[[memoryview, float | None], int]
#: the smallest read-ahead buffer: one frame header
_MIN_BUFFER = 24


class ByteStream:
    """Exact reads from a transport through a read-ahead buffer.

    Parameters
    ----------
    read_some : callable
        The transport's read: fills a prefix of the view (at least one byte),
        returns the count, raises :class:`ProtocolTimeoutError` or
        :class:`ConnectionClosedError`.
    buffer_size : int
        Bytes read ahead.
    """

    def __init__(self, read_some: ReadSome, buffer_size: int = 1 << 16) -> None:
        self.read_some = read_some
        #: an overall deadline (``time.monotonic()``) the owner sets, e.g. for a handshake
        self.deadline: float | None = None
        self.deadline_what = ""
        self._message_deadline: float | None = None
        self._message_what = ""
        self._buf = bytearray(max(buffer_size, _MIN_BUFFER))
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0

    def reset(self) -> None:
        """Forget buffered bytes (after the stream lost sync) and the message's deadline."""
        self._start = self._end = 0
        self._message_deadline = None

    def _read(self, view: memoryview, timeout: float | None) -> int:
        """``read_some`` within the per-read timeout and whichever deadline comes first."""
        limit, what = self.deadline, self.deadline_what
        if self._message_deadline is not None and (
            limit is None or self._message_deadline < limit
        ):
            limit, what = self._message_deadline, self._message_what
        if limit is None:
            return self.read_some(view, timeout)
        left = limit - time.monotonic()
        if left <= 0:
            raise DeadlineError(what)
        if timeout is not None and timeout < left:
            return self.read_some(view, timeout)
        try:
            return self.read_some(view, left)
        except ProtocolTimeoutError:
            raise DeadlineError(what) from None

    def _start_message(self, seconds: float, what: str) -> None:
        self._message_deadline = time.monotonic() + seconds
        self._message_what = f"{what} within {seconds:.3g} s"

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
                self._end += self._read(self._view[self._end :], timeout)
            except DeadlineError:
                raise
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
        if rest + _MIN_BUFFER <= len(self._buf) // 2:
            self._fill(rest, timeout, "frame payload", done=have)
            target[have:] = self._view[self._start : self._start + rest]
            self._start += rest
            return
        while have < size:  # large: straight into the target, no extra copy
            try:
                have += self._read(target[have:], timeout)
            except DeadlineError:
                raise
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

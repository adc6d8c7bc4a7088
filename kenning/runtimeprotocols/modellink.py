"""The socket between the server and a model's process: headers, payloads, and fast waits.

Both ends of a :class:`ModelLink` keep their socket non-blocking. A read first spins for up
to :data:`SPIN_S` on the socket (a reply usually comes within microseconds, and waking a
process that slept in the kernel costs tens of them on each side of every request), then
waits in ``poll`` until its deadline; it spins only while that pays and the CPU is not
contended (:class:`~kenning.runtimeprotocols.spinning.SpinPolicy`). Payloads are read into
one buffer that grows as needed and is reused, so a 150 KB input costs no fresh memory per
request.
"""

from __future__ import annotations

import select
import socket
import struct
import time

from kenning.runtimeprotocols.spinning import SPIN_S, SpinPolicy

#: an operation (or a reply's status) and the payload's length
HEADER = struct.Struct("<BQ")


class LinkClosedError(ConnectionError):
    """The other end closed the socket (a process that ended, or a server that left)."""


class ModelLink:
    """One end of the socket pair between the server and a model's process.

    Parameters
    ----------
    sock : socket.socket
        This end; made non-blocking here.
    spin : float
        Seconds a read spins before it sleeps.
    """

    def __init__(self, sock: socket.socket, spin: float = SPIN_S) -> None:
        self.sock = sock
        self.spin = spin
        self._policy = SpinPolicy(spin)
        sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._out = select.poll()
        self._out.register(sock, select.POLLOUT)
        self._buffer = bytearray(1 << 16)
        #: bytes read past the end of the previous message (the next one's start), and where
        self._kept, self._kept_at = 0, 0

    def close(self) -> None:
        """Close this end."""
        self.sock.close()

    def send(
        self, code: int, payload: bytes | bytearray | memoryview, timeout: float | None
    ) -> None:
        """A header (``code``: an operation or a status) and its payload.

        Raises
        ------
        TimeoutError
            If the other end takes nothing for ``timeout`` seconds.
        OSError
            If the other end is gone.
        """
        body = memoryview(payload).cast("B")
        parts = [memoryview(HEADER.pack(code, body.nbytes)), body]
        deadline = None if timeout is None else time.monotonic() + timeout
        while parts:
            try:
                sent = self.sock.sendmsg(parts)
            except BlockingIOError:
                self._wait(self._out, deadline, "to take a request")
                continue
            while parts and sent >= len(parts[0]):
                sent -= len(parts[0])
                parts.pop(0)
            if parts and sent:
                parts[0] = parts[0][sent:]

    def receive(self, timeout: float | None) -> tuple[int, memoryview]:
        """The next header's code and its payload (valid until the next :meth:`receive`).

        One read usually brings header and payload together.

        Raises
        ------
        TimeoutError
            If nothing whole comes within ``timeout`` seconds.
        LinkClosedError
            If the other end closed the socket.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        buffer, got = self._buffer, self._kept
        if got and self._kept_at:
            buffer[:got] = buffer[self._kept_at : self._kept_at + got]
        if got < HEADER.size:
            got += self._read(memoryview(buffer)[got:], HEADER.size - got, deadline, not got)
        code, size = HEADER.unpack_from(buffer)
        end = HEADER.size + size
        if end > len(buffer):
            grown = bytearray(end)
            grown[:got] = memoryview(buffer)[:got]
            self._buffer = buffer = grown
        if got < end:
            got += self._read(memoryview(buffer)[got:end], end - got, deadline)
        self._kept, self._kept_at = got - end, end
        return code, memoryview(buffer)[HEADER.size : end]

    def _read(
        self, view: memoryview, need: int, deadline: float | None, first: bool = False
    ) -> int:
        """Read at least ``need`` bytes into ``view`` (more when they came); how many.

        ``first``: nothing of the message has come yet.
        """
        got = 0
        policy = self._policy
        polling = self.spin > 0 and policy.should_poll()
        if first and not polling:  # a message is seldom there yet: sleep, then one read
            slept = time.perf_counter()
            self._wait(self._poll, deadline, "to answer")
            policy.slept(time.perf_counter() - slept)
        start = time.perf_counter()
        while got < need:
            try:
                count = self.sock.recv_into(view[got:])
            except BlockingIOError:
                if polling:
                    now = time.perf_counter()
                    if now - start < self.spin:
                        continue
                    policy.polled(False)
                    polling = False
                slept = time.perf_counter()
                self._wait(self._poll, deadline, "to answer")
                policy.slept(time.perf_counter() - slept)
                continue
            if count == 0:
                raise LinkClosedError("the other end closed the socket")
            if polling:
                policy.polled(True)
                polling = False
            got += count
        return got

    @staticmethod
    def _wait(poller: select.poll, deadline: float | None, what: str) -> None:
        if deadline is None:
            poller.poll()
            return
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise TimeoutError(what)

"""Where hosts that connect to a TCP server wait: their handshakes, all at once.

A connection used to take the server's only slot from the moment it was accepted, so a
client that said nothing held it for ``--handshake-timeout`` seconds, and a few of them
reconnecting in a loop kept real hosts out without knowing any secret. :class:`Lobby`
accepts connections on the listening socket in a thread of its own and runs each one's
handshake (:class:`~kenning.runtimeprotocols.gate.Gate`) in a thread of its own, under one
deadline from the moment it connected. At most ``max_pending`` handshakes run at once: a
connection beyond them closes the oldest one still under way, so clients that connect and
say nothing cannot keep out a host that proves the secret in the time a handshake takes
(milliseconds), whatever their number. Only a host that proved it holds the secret goes
further: it takes the serving slot, or, while another host holds it, is told ``busy`` and
closed at once (nothing it sends afterwards can hold the lobby).
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kenning.runtimeprotocols.errors import (
    ConnectionClosedError,
    FrameError,
    ProtocolTimeoutError,
)
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.gate import LIMITS, Gate
from kenning.runtimeprotocols.reader import FrameReader
from kenning.runtimeprotocols.wire import HEADER_SIZE, MessageType, encode_frames, type_name
from kenning.utils.errors import ProtocolError

log = logging.getLogger("kenning.server")

#: handshakes that may run at once; a connection beyond them closes the oldest
MAX_PENDING = 16
#: seconds between checks of whether the lobby closes
_POLL_S = 0.1


def _reader(sock: socket.socket, max_payload_size: int) -> FrameReader:
    """A frame reader on ``sock`` that never reads past the message it is asked for.

    Its buffer holds one header, so whatever the host sends after its ``AUTH`` stays in
    the socket for the session that takes it over.
    """

    def read_some(view: memoryview, timeout: float | None) -> int:
        sock.settimeout(timeout)
        try:
            count = sock.recv_into(view)
        except TimeoutError as exc:
            raise ProtocolTimeoutError("data", timeout) from exc
        except OSError as exc:
            raise ConnectionClosedError(f"connection broken: {exc.strerror or exc}") from exc
        if count == 0:
            raise ConnectionClosedError("the peer closed the connection")
        return count

    return FrameReader(read_some, max_payload_size, buffer_size=HEADER_SIZE, limits=LIMITS)


def _send(sock: socket.socket, type_: MessageType, payload: bytes, timeout: float) -> bool:
    """Send one message; whether it went (a peer that left is no error here)."""
    try:
        sock.settimeout(timeout)
        for part in encode_frames(type_, payload):
            sock.sendall(part)
    except OSError:
        return False
    return True


def _shut(sock: socket.socket) -> None:
    """End a connection another thread reads: its read returns at once, and it closes."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    """Close at once, having taken what the peer already sent (at most 1 MiB, no waiting).

    Bytes left unread would turn the close into a reset, which may discard the last reply
    before the peer reads it.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        for _ in range(16):
            if not sock.recv(1 << 16):
                break
    except OSError:  # nothing more has arrived, or the peer has gone
        pass
    sock.close()


class Lobby:
    """Accept connections on ``listener`` and run their handshakes until :meth:`close`.

    Parameters
    ----------
    listener : socket.socket
        The server's listening socket (only the lobby accepts on it from now on).
    owner : FramedProtocol
        The server's transport: its ``secret``, ``handshake_timeout`` (seconds a connection
        has from being accepted to finish the handshake), ``timeout`` (for any one read or
        write) and ``max_payload_size``.
    max_pending : int
        Handshakes that may run at once (one more closes the oldest).
    """

    def __init__(
        self, listener: socket.socket, owner: FramedProtocol, max_pending: int = MAX_PENDING
    ) -> None:
        self.listener = listener
        self.secret = owner.secret
        self.suite = owner.frame_suite
        self.handshake_timeout = owner.handshake_timeout
        self.timeout = owner.timeout
        self.max_payload_size = owner.max_payload_size
        self.max_pending = max_pending
        self.reason: Callable[[], str] = lambda: "busy: serving another host"
        self._lock = threading.Lock()
        #: connections whose handshake is under way, oldest first, and their peers
        self._pending: dict[socket.socket, str] = {}
        self._serving = False
        self._ready: queue.Queue[tuple[socket.socket, str, dict[str, bytes]]] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="lobby", daemon=True)
        self._thread.start()

    def next_host(self, timeout: float | None) -> tuple[socket.socket, str, dict[str, bytes]]:
        """The next host that proved the secret, and now holds the slot (see :meth:`release`).

        Returns
        -------
        tuple
            Its connection, its address and the session's keys (``frameauth``).

        Raises
        ------
        ProtocolTimeoutError
            If none came within ``timeout`` seconds.
        """
        try:
            return self._ready.get(timeout=timeout)
        except queue.Empty:
            raise ProtocolTimeoutError("a client to connect", timeout) from None

    def release(self) -> None:
        """The host served has gone: the next one to prove the secret is served."""
        with self._lock:
            self._serving = False

    @contextmanager
    def serving(self, reason: Callable[[], str]) -> Iterator[None]:
        """While the block runs, a host that proves the secret is told ``reason()``."""
        self.reason = reason
        try:
            yield
        finally:
            self.reason = lambda: "busy: serving another host"

    def close(self) -> None:
        """Stop accepting; end every handshake and drop hosts not taken yet."""
        with self._lock:  # a handshake that ends from now on finds the lobby closed
            self._closed.set()
            pending = list(self._pending)
        self._thread.join(timeout=2 * _POLL_S + 1)
        for sock in pending:  # their threads see the connection end and return
            _shut(sock)
        while not self._ready.empty():
            self._ready.get_nowait()[0].close()

    # -- threads ---------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([self.listener], [], [], _POLL_S)
                if not ready or self._closed.is_set():
                    continue
                self.listener.settimeout(0)
                sock, address = self.listener.accept()
            except (OSError, ValueError):  # nobody there after all, or the listener closed
                if self.listener.fileno() < 0:
                    return
                continue
            peer = f"{address[0]}:{address[1]}"
            with self._lock:
                oldest = next(iter(self._pending.items()), None)
                if len(self._pending) < self.max_pending:
                    oldest = None
                elif oldest is not None:
                    del self._pending[oldest[0]]
                self._pending[sock] = peer
            if oldest is not None:  # its thread sees the connection end and closes it
                log.info(
                    "closed %s for %s: %d handshakes under way",
                    oldest[1],
                    peer,
                    len(self._pending),
                )
                _shut(oldest[0])
            threading.Thread(
                target=self._handshake, args=(sock, peer), name=f"handshake {peer}", daemon=True
            ).start()

    def _handshake(self, sock: socket.socket, peer: str) -> None:
        try:
            proof, keys = self._prove(sock, peer)
        finally:
            with self._lock:
                self._pending.pop(sock, None)
        if proof is None or self._closed.is_set():
            _close(sock)
            return
        with self._lock:
            take = not self._serving
            self._serving = self._serving or take
        if not take:
            text = self.reason()
            log.info("refused %s: %s", peer, text)
            _send(sock, MessageType.ERROR, text.encode(), self.timeout)
            _close(sock)  # at once: what it sends next holds nothing
            return
        if _send(sock, MessageType.OK, proof, self.timeout):
            with self._lock:
                if not self._closed.is_set():
                    self._ready.put((sock, peer, keys))
                    return
        self.release()
        sock.close()

    def _prove(self, sock: socket.socket, peer: str) -> tuple[bytes | None, dict[str, bytes]]:
        """Run one connection's handshake: the proof for its ``OK`` (or ``None``), the keys."""
        reader = _reader(sock, self.max_payload_size)
        reader.deadline = time.monotonic() + self.handshake_timeout
        reader.deadline_what = f"the handshake (HELLO, AUTH) within {self.handshake_timeout:g} s"
        gate = Gate(self.secret, self.suite)
        try:
            while True:
                header = reader.read_header(self.timeout, self.handshake_timeout)
                if header.type not in (MessageType.HELLO, MessageType.AUTH):
                    raise gate.refuse(type_name(header.type))
                message = reader.read_body(header, self.timeout)
                if message.type == MessageType.AUTH:
                    return gate.auth(message.payload), gate.keys
                if not _send(sock, MessageType.HELLO, gate.hello(message.payload), self.timeout):
                    return None, {}
        except ProtocolError as exc:  # a wrong proof, a bad frame, a deadline, a close
            if isinstance(exc, FrameError):
                log.warning("bad frame from %s in the handshake: %s", peer, exc)
            else:
                log.info("%s: no handshake: %s", peer, exc)
            if not isinstance(exc, ConnectionClosedError):
                _send(sock, MessageType.ERROR, str(exc).encode(), self.timeout)
            return None, {}

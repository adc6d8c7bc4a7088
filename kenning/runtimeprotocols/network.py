"""TCP transport: the target listens, the host connects.

Every frame goes out in one ``sendmsg`` call (header and payload gathered, no
copy) on a socket with ``TCP_NODELAY``, so small replies are not held back by
Nagle's algorithm. Reads and writes time out through ``SO_RCVTIMEO`` and
``SO_SNDTIMEO`` on a blocking socket: one system call per read rather than a
poll followed by the read.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from kenning.core.args import Arg
from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.errors import (
    ConnectionClosedError,
    ProtocolTimeoutError,
    TransportError,
)
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.lobby import Lobby
from kenning.runtimeprotocols.peers import is_loopback, peer_pid
from kenning.runtimeprotocols.spinning import SPIN_S, SpinPolicy
from kenning.utils.errors import ConfigurationError

_SOCKET_BUFFER = 4 << 20
#: how a read waits: spin then block, block at once, or spin only while it pays (default)
READ_MODES = ("spin", "block", "adaptive")
_BROKEN = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ENOTCONN, errno.ESHUTDOWN)
#: buffers per sendmsg call (Linux refuses more than IOV_MAX = 1024 with EMSGSIZE)
_IOV_MAX = 512
#: TCP keepalive: first probe after 30 s of silence, then every 10 s, give up after 3
_KEEPALIVE = (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
#: the largest payload of one frame by default: every frame carries its tag, so large frames
#: mean fewer headers, tags and reads per message (``bench/protocol_limit.py``)
PACKET_SIZE = 4 << 20


def _timeval(timeout: float | None) -> bytes:
    seconds = 0.0 if timeout is None else max(timeout, 1e-6)
    return struct.pack("ll", int(seconds), round((seconds % 1) * 1e6))


class NetworkProtocol(FramedProtocol):
    """Messages over TCP.

    Parameters
    ----------
    host : str
        Server: address to bind (``127.0.0.1`` by default, since the server
        runs models it is sent). Client: address to connect to.
    port : int
        TCP port; ``0`` lets the server's system pick one (see :attr:`address`).
    packet_size, timeout, max_payload_size
        See :class:`~kenning.core.runtimeprotocol.RuntimeProtocol`; ``packet_size`` defaults
        to :data:`PACKET_SIZE`.
    read_mode : str
        How a read waits for data: ``spin`` (poll up to 100 µs, then sleep in the kernel),
        ``block`` (sleep at once) or ``adaptive`` (poll, yielding the CPU between polls, only
        while the previous reply came within the polling window and the CPU is not contended:
        :class:`~kenning.runtimeprotocols.spinning.SpinPolicy`, ``bench/protocol_limit.py``).
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--host", str, "127.0.0.1", "server address to bind or to connect to"),
        Arg("--port", int, 12345, "TCP port (0: the server picks a free one)"),
        Arg("--packet-size", int, PACKET_SIZE, "largest payload of one frame, in bytes"),
        Arg(
            "--read-mode",
            str,
            "adaptive",
            "how reads wait: adaptive, spin or block",
            choices=READ_MODES,
        ),
    )

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 12345,
        packet_size: int = PACKET_SIZE,
        timeout: float = 30.0,
        max_payload_size: int = 1 << 28,
        read_mode: str = "adaptive",
        secret_file: str | None = None,
    ) -> None:
        super().__init__(packet_size, timeout, max_payload_size, secret_file)
        if not 0 <= port <= 65535:
            raise ConfigurationError(f"--port {port} is not a TCP port (0-65535)")
        if read_mode not in READ_MODES:
            raise ConfigurationError(f"--read-mode {read_mode}: choose {', '.join(READ_MODES)}")
        self.host = host
        self.port = port
        self.read_mode = read_mode
        self._policy = SpinPolicy()  # adaptive: whether polling pays
        self.listener: socket.socket | None = None
        self.lobby: Lobby | None = None
        self.sock: socket.socket | None = None
        self._read_timeout: float | bool | None = False  # False: not set yet

    @property
    def address(self) -> tuple[str, int]:
        """The bound (server) or configured (client) address."""
        if self.listener is not None:
            host, port = self.listener.getsockname()[:2]
            return str(host), int(port)
        return self.host, self.port

    def peer_process(self) -> int | None:
        sock = self.sock  # may be closed meanwhile: the server looks it up in a thread
        if sock is None:
            return None
        try:
            local, peer = sock.getsockname(), sock.getpeername()
        except OSError:
            return None
        return peer_pid(local, peer)

    def private_line(self) -> bool:
        return is_loopback(self.host)

    def describe(self) -> str:
        host, port = self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # -- connection --------------------------------------------------------------
    def initialize_server(self) -> None:
        """Listen; a non-loopback address needs a secret, since the server runs what it gets.

        Raises
        ------
        ConfigurationError
            If ``--host`` is not loopback and there is no ``--secret-file``.
        TransportError
            If the address cannot be bound.
        """
        if not is_loopback(self.host) and not self.secret:
            raise ConfigurationError(
                f"--host {self.host} without --secret-file: anyone who reaches that port "
                "could run code here; give --secret-file, or listen on 127.0.0.1 and "
                "reach it through an SSH tunnel"
            )
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(16)  # a busy host is answered, not left to retry its SYN
        except OSError as exc:
            raise TransportError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self.listener = listener

    def accept_client(self, timeout: float | None) -> str:
        """The next host that proved the secret (:mod:`~kenning.runtimeprotocols.lobby`)."""
        if self.listener is None:
            raise TransportError("initialize_server() must be called before accept_client()")
        if self.lobby is None:
            self.lobby = Lobby(self.listener, self)
        sock, peer, keys = self.lobby.next_host(timeout)
        self._use(sock)
        self.authenticated = True
        self.handed_keys = keys
        return peer

    def busy(self, reason: Callable[[], str]) -> Any:
        """Tell hosts that prove the secret during the block ``ERROR <reason()>``."""
        if self.lobby is None:
            return super().busy(reason)
        return self.lobby.serving(reason)

    def initialize_client(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError as exc:
            raise ProtocolTimeoutError(
                f"a connection to {self.host}:{self.port}", self.timeout
            ) from exc
        except OSError as exc:
            raise TransportError(
                f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc} "
                "(is kenning.scenarios.inference_server running there?)"
            ) from exc
        self._use(sock)

    def _use(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # a peer that vanished
        for name, value in _KEEPALIVE:
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):  # fewer wake-ups for models
            sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(self.timeout))
        self.sock = sock
        self._read_timeout = False
        self.reset_session()

    def disconnect(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.reset_session()
                self.authenticated = False
                if self.lobby is not None:
                    self.lobby.release()

    def close(self) -> None:
        self.disconnect()
        if self.lobby is not None:
            self.lobby.close()
            self.lobby = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    # -- bytes -------------------------------------------------------------------
    def _connected(self) -> socket.socket:
        if self.sock is None:
            raise ConnectionClosedError("not connected")
        return self.sock

    def write(self, buffers: Sequence[Buffer]) -> None:
        sock = self._connected()
        try:
            if len(buffers) == 1:
                sock.sendall(buffers[0])
                return
            pending = [memoryview(b).cast("B") for b in buffers]
            while pending:
                sent = sock.sendmsg(pending[:_IOV_MAX])  # a system call takes so many
                while pending and sent >= len(pending[0]):
                    sent -= len(pending[0])
                    pending.pop(0)
                if sent:
                    pending[0] = pending[0][sent:]
        except BlockingIOError as exc:  # SO_SNDTIMEO passed
            raise ProtocolTimeoutError("the peer to accept more data", self.timeout) from exc
        except OSError as exc:
            raise ConnectionClosedError(f"send failed: {exc.strerror or exc}") from exc

    def _poll(self, sock: socket.socket, view: memoryview) -> int | None:
        """Poll briefly with non-blocking receives before sleeping in the kernel.

        ``spin`` always polls; ``adaptive`` polls, yielding the CPU between polls so a peer on
        the same core still runs, only when its :class:`SpinPolicy` says polling pays and the
        CPU is not contended (when this thread waits for whole slices of other work on the
        run queue, reads sleep at once for a while rather than lose those slices).
        """
        mode = self.read_mode
        if mode == "block" or (mode == "adaptive" and not self._policy.should_poll()):
            return None
        adaptive = mode == "adaptive"
        deadline = time.perf_counter() + SPIN_S
        count: int | None = None
        while True:
            try:
                count = sock.recv_into(view, 0, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    break
                if adaptive:
                    os.sched_yield()
        if adaptive:
            self._policy.polled(count is not None)
        return count

    def read_some(self, view: memoryview, timeout: float | None) -> int:
        sock = self._connected()
        if timeout != self._read_timeout:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout))
            self._read_timeout = timeout
        try:
            count = self._poll(sock, view)
            if count is None:
                start = time.perf_counter()
                count = sock.recv_into(view)
                # adaptive: poll again once a reply comes within the window after all
                self._policy.slept(time.perf_counter() - start)
        except BlockingIOError as exc:  # SO_RCVTIMEO passed
            raise ProtocolTimeoutError("data", timeout) from exc
        except OSError as exc:
            if exc.errno in _BROKEN:
                raise ConnectionClosedError(f"connection broken: {exc.strerror}") from exc
            raise TransportError(f"receive failed: {exc.strerror or exc}") from exc
        if count == 0:
            raise ConnectionClosedError("the peer closed the connection")
        return count

"""Ports on a board: waiting for one to open, and relaying one to this machine (``ssh -L``).

Both go through the SSH connection (``direct-tcpip`` channels), so they work when the board's
port cannot be reached directly. A tunnel gives each connection accepted on 127.0.0.1 its own
channel and a thread pumping both ways with ``select``; a half-close is passed on, so
protocols that close their write side still get their answer.
"""

from __future__ import annotations

import logging
import select
import shlex
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from kenning.executors.boarderrors import BoardError
from kenning.executors.ssh.connect import paramiko
from kenning.executors.ssh.target import SSHConnection

if TYPE_CHECKING:
    from kenning.executors.ssh.process import RemoteProcess

log = logging.getLogger("kenning.executors.ssh.executor")

#: seconds between checks of the stop flag in the accept and relay loops
POLL_S = 0.2
#: seconds a relay thread gets to finish when the tunnel closes
JOIN_S = 2.0
_CHUNK = 65536


def wait_for_port(
    board: SSHConnection, port: int, process: RemoteProcess | None, timeout: float, host: str
) -> None:
    """Poll until ``host:port`` accepts connections from the board (``wait_for_port``).

    Raises
    ------
    BoardError
        With step ``"starting the server"`` if ``process`` exits first (with its log
        tail), if nothing listens within ``timeout``, or if the board forbids forwarding.
    """
    step = "starting the server"
    deadline = time.monotonic() + timeout
    while True:
        with board.ssh_errors(step):
            try:
                channel = board.transport(step).open_channel(
                    "direct-tcpip",
                    (host, port),
                    ("127.0.0.1", 0),
                    timeout=board.target.connect_timeout,
                )
            except paramiko.ChannelException as exc:
                if exc.code == paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED:
                    detail = f"its sshd forbids TCP forwarding (AllowTcpForwarding): {exc}"
                    raise BoardError(board.board, step, detail) from exc
            else:
                channel.close()
                return
        if process is not None and not process.alive():
            detail = f"`{shlex.join(process.command)}` (pid {process.pid}) exited before "
            raise BoardError(
                board.board, step, detail + f"listening on {host}:{port}", process.log_tail()
            )
        if time.monotonic() > deadline:
            detail = f"nothing listens on {host}:{port} after {timeout:g} s"
            tail = process.log_tail() if process is not None else []
            raise BoardError(board.board, step, detail, tail)
        time.sleep(POLL_S)


class Tunnel:
    """Listen on 127.0.0.1 (a port the OS chooses) and relay to ``target`` over ``transport``.

    Parameters
    ----------
    transport : paramiko.Transport
        An authenticated SSH transport.
    target : tuple of (str, int)
        Host and port, as the SSH server sees them.
    board : str
        The board's name, for log messages.
    """

    def __init__(self, transport: Any, target: tuple[str, int], board: str) -> None:
        self.transport = transport
        self.target = target
        self.board = board
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._relays: set[threading.Thread] = set()
        self._acceptor = threading.Thread(
            target=self._accept, daemon=True, name=f"tunnel-{self.port}"
        )
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], POLL_S)
                if not ready:
                    continue
                conn, peer = self._listener.accept()
            except (OSError, ValueError):
                return  # the listener was closed
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                channel = self.transport.open_channel("direct-tcpip", self.target, peer)
            except Exception as exc:  # noqa: BLE001 - any failure only drops this connection
                log.warning(
                    "board %s: cannot open a tunnel to %s:%d: %s", self.board, *self.target, exc
                )
                conn.close()
                continue
            relay = threading.Thread(target=self._relay, args=(conn, channel), daemon=True)
            with self._lock:
                self._relays.add(relay)
            relay.start()

    def _relay(self, conn: socket.socket, channel: Any) -> None:
        reading: list[Any] = [conn, channel]
        try:
            while reading and not self._stop.is_set():
                ready, _, _ = select.select(reading, [], [], POLL_S)
                if conn in ready:
                    data = conn.recv(_CHUNK)
                    if data:
                        channel.sendall(data)
                    else:
                        channel.shutdown_write()
                        reading.remove(conn)
                if channel in ready:
                    data = channel.recv(_CHUNK)
                    if data:
                        conn.sendall(data)
                    else:
                        _shutdown_write(conn)
                        reading.remove(channel)
        except (OSError, EOFError) as exc:
            log.debug("board %s: tunnel connection ended: %s", self.board, exc)
        except Exception as exc:  # noqa: BLE001 - paramiko errors end this connection only
            log.debug("board %s: tunnel connection ended: %s", self.board, exc)
        finally:
            conn.close()  # first: closing the channel fails when the connection is gone
            try:
                channel.close()
            except Exception as exc:  # noqa: BLE001 - the transport died under the channel
                log.debug("board %s: closing a tunnel channel: %s", self.board, exc)
            with self._lock:
                self._relays.discard(threading.current_thread())

    def close(self) -> None:
        """Stop accepting, end every relayed connection and wait for the threads."""
        self._stop.set()
        self._listener.close()
        self._acceptor.join(JOIN_S)
        with self._lock:
            relays = list(self._relays)
        for relay in relays:
            relay.join(JOIN_S)


def _shutdown_write(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the client is gone already

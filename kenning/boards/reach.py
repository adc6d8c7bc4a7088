"""Where this host reaches a board's TCP server: directly, or through an SSH tunnel.

The server listens on the board's loopback and is reached through a tunnel; with
``expose: true`` it listens on every interface and is reached directly when the port answers
(``tunnel: auto``) or must be (``tunnel: never``).
"""

from __future__ import annotations

import logging
import socket
from contextlib import ExitStack
from typing import Any

from kenning.boards.protocolconfig import NetworkProtocolConfig

log = logging.getLogger("kenning.boards")


def server_address(
    name: str, host: str, session: Any, stack: ExitStack, protocol: NetworkProtocolConfig
) -> tuple[str, int]:
    """The address to connect to; a tunnel opened here is closed with ``stack``.

    Parameters
    ----------
    name, host : str
        The board's inventory name and its SSH host.
    session : Any
        The board's SSH session (:class:`kenning.executors.ssh.board.BoardSession`).
    stack : ExitStack
        Holds the tunnel for the run.
    protocol : NetworkProtocolConfig
        The board's ``protocol:``.
    """
    if protocol.expose and (
        protocol.tunnel == "never"
        or (protocol.tunnel == "auto" and reachable(host, protocol.port))
    ):
        return host, protocol.port
    local = stack.enter_context(session.forward(protocol.port))
    log.info("board %s: port %d tunnelled through SSH to 127.0.0.1:%d", name, protocol.port, local)
    return "127.0.0.1", local


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether ``host:port`` accepts a TCP connection within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

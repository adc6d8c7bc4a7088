"""Loopback peers: whether an address is loopback, and which process is at the other end.

A server on a local board counts the host's tester as part of the measurement (its CPU is not
other load): this finds it from the connection's addresses. Nobody can be on the path of a
loopback connection, so frames there may go without tags (``frameauth``).
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def peer_pid(local: tuple[str, int], peer: tuple[str, int]) -> int | None:
    """The process on this machine at the other end of a loopback TCP connection, if any.

    ``local`` and ``peer`` are the connection's addresses as this side sees them.
    """
    if not peer[0].startswith("127.") and peer[0] != "::1":
        return None
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if (
            conn.laddr
            and conn.raddr
            and tuple(conn.laddr)[:2] == tuple(peer)[:2]
            and tuple(conn.raddr)[:2] == tuple(local)[:2]
        ):
            return int(conn.pid) if conn.pid else None
    return None

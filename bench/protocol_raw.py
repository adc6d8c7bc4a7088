"""The raw-socket peer of bench/protocol_limit.py: kenning's message pattern, nothing else.

A message is a 5-byte header (type, payload length) and its payload, sent in one
``sendmsg``; a payload is received with ``recv_into`` a buffer allocated once. The pattern per
sample is kenning's without its checks: DATA + OK; PROCESS + OK + OK<8-byte time>; OUTPUT +
OK<output>; a model upload is MODEL + OK. Reads wait one of two ways:

* ``block``: ``recv_into`` sleeps in the kernel at once;
* ``poll``: non-blocking receives, yielding the CPU between them, for up to 100 µs while the
  previous wait ended inside that window, then a blocking receive (what kenning's
  ``--read-mode adaptive`` does).

No framing checks, no checksum, no authentication, no allocation per message: the time a
Python host cannot beat on this machine for the same bytes in the same pattern.

    python bench/protocol_raw.py serve block|poll    # prints "listening on 127.0.0.1:PORT"
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

HEADER = struct.Struct("<BI")
DATA, PROCESS, OUTPUT, MODEL, OK = 1, 2, 3, 4, 0
SPIN_S = 100e-6
OUTPUT_BYTES = 40


class RawPeer:
    """One end of a raw connection, reading the way ``mode`` says."""

    def __init__(self, sock: socket.socket, mode: str, capacity: int) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.mode = sock, mode
        self.buffer = bytearray(max(capacity, 64))
        self.view = memoryview(self.buffer)
        self.header = bytearray(HEADER.size)
        self.spin_paid = True

    def _recv(self, view: memoryview) -> int:
        if self.mode == "poll" and self.spin_paid:
            deadline = time.perf_counter() + SPIN_S
            while True:
                try:
                    return self.sock.recv_into(view, 0, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    if time.perf_counter() >= deadline:
                        self.spin_paid = False
                        break
                    os.sched_yield()
        start = time.perf_counter()
        count = self.sock.recv_into(view)
        self.spin_paid = time.perf_counter() - start < SPIN_S
        return count

    def read_exact(self, view: memoryview) -> None:
        got = 0
        while got < len(view):
            count = self._recv(view[got:])
            if count == 0:
                raise ConnectionError("peer closed")
            got += count

    def receive(self) -> tuple[int, memoryview]:
        """The next message: its type and a view of its payload in the reused buffer."""
        self.read_exact(memoryview(self.header))
        kind, length = HEADER.unpack(self.header)
        if length > len(self.buffer):
            self.buffer = bytearray(length)
            self.view = memoryview(self.buffer)
        payload = self.view[:length]
        self.read_exact(payload)
        return kind, payload

    def send(self, kind: int, payload: bytes | memoryview = b"") -> None:
        head = HEADER.pack(kind, len(payload))
        sent = self.sock.sendmsg([head, payload])
        if sent < len(head):
            self.sock.sendall(head[sent:])
            sent = len(head)
        if sent < len(head) + len(payload):  # a large payload goes out in pieces
            self.sock.sendall(memoryview(payload)[sent - len(head) :])


def serve(mode: str) -> None:
    """Answer one host after another, forever (the bench stops this process)."""
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    output = bytes(OUTPUT_BYTES)
    while True:
        conn, _ = listener.accept()
        peer = RawPeer(conn, mode, 1 << 20)
        try:
            while True:
                kind, _ = peer.receive()
                if kind == PROCESS:
                    peer.send(OK)
                    peer.send(OK, struct.pack("<d", 0.0))
                elif kind == OUTPUT:
                    peer.send(OK, output)
                else:  # DATA, MODEL and the connect probe
                    peer.send(OK)
        except ConnectionError:
            conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or sys.argv[2:3] not in (["block"], ["poll"]):
        raise SystemExit("usage: protocol_raw.py serve block|poll")
    serve(sys.argv[2])

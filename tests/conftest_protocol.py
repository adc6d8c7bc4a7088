"""Fixtures and helpers for the protocol tests.

Import what a test module uses from here (fixtures with ``# noqa: F401``).
Servers run for real: an :class:`InferenceServer` in a thread on a port the OS
picks, or ``kenning.scenarios.inference_server`` in a subprocess.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.frameauth import TAG_SIZE
from kenning.runtimeprotocols.handshake import host_proof, target_proof
from kenning.runtimeprotocols.network import NetworkProtocol
from kenning.runtimeprotocols.server import InferenceServer
from kenning.runtimeprotocols.wire import HEADER_SIZE, Flags, MessageType, encode_frames
from kenning.runtimes.null import NullRuntime

ROOT = Path(__file__).resolve().parent.parent

SPEC = IOSpec(
    inputs=[TensorSpec(name="x", shape=[-1, 16], dtype="float32")],
    outputs=[TensorSpec(name="y", shape=[-1, 10], dtype="float32")],
)
SAMPLE = bytes(range(64))  # one 16-float32 sample


@dataclass
class ThreadServer:
    server: InferenceServer
    port: int
    thread: threading.Thread


@contextmanager
def thread_server(
    tmp_path: Path,
    timeout: float = 2.0,
    idle_timeout: float = 5.0,
    inference_time: float = 0.0,
    secret: bytes = b"",
    handshake_timeout: float = 10.0,
    frame_auth: str = "auto",
    **protocol_args: int,
) -> Iterator[ThreadServer]:
    """An InferenceServer with a NullRuntime on 127.0.0.1:<free port>, in a thread.

    ``frame_auth="none"`` for tests that send hand-made frames after the handshake (what an
    authenticated host's broken frames do to the server), which carry no tags.
    """
    protocol = NetworkProtocol(port=0, timeout=timeout, **protocol_args)
    protocol.use_secret(secret)
    protocol.initialize_server()
    server = InferenceServer(
        protocol,
        NullRuntime(tmp_path / "target" / "model.bin", inference_time=inference_time),
        idle_timeout=idle_timeout,
        monitor_interval=0.05,
        handshake_timeout=handshake_timeout,
        frame_auth=frame_auth,
    )
    thread = threading.Thread(
        target=server.serve, kwargs={"initialize": False, "poll": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield ThreadServer(server, protocol.address[1], thread)
    finally:
        server.stop_event.set()
        thread.join(idle_timeout + 5)
        assert not thread.is_alive(), "server thread did not stop"


@pytest.fixture
def null_server(tmp_path: Path) -> Iterator[ThreadServer]:
    """A server whose hosts may send untagged frames (``raw_connection``) after the handshake."""
    with thread_server(tmp_path, frame_auth="none") as server:
        yield server


def model_file(tmp_path: Path, size: int = 1000) -> Path:
    path = tmp_path / "host" / "model.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def ready_client(
    port: int, tmp_path: Path, timeout: float = 5.0, secret: bytes = b""
) -> ProtocolClient:
    """A client connected to ``port`` that has uploaded SPEC and a model."""
    client = ProtocolClient(NetworkProtocol(port=port, timeout=timeout))
    client.protocol.use_secret(secret)
    client.connect()
    client.upload_io_spec(SPEC)
    client.upload_model(model_file(tmp_path))
    return client


def full_exchange(client: ProtocolClient, data: bytes = SAMPLE) -> tuple[float, float, bytes]:
    client.upload_input(data)
    host, target = client.request_processing()
    output = bytes(client.download_output())
    client.download_statistics()
    return host, target, output


@contextmanager
def raw_connection(
    port: int, timeout: float = 5.0, handshake: bool = True, secret: bytes = b""
) -> Iterator[socket.socket]:
    """A socket to the server, past the handshake (made with ``secret``) unless told not.

    While the server is still busy with the previous host it says so: then try again.
    """
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if not handshake or raw_handshake(sock, secret) or time.monotonic() > deadline:
            break
        sock.close()
        time.sleep(0.05)
    try:
        yield sock
    finally:
        sock.close()


def recv_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One whole frame (type, payload) off a socket."""
    head = b""
    while len(head) < HEADER_SIZE:
        chunk = sock.recv(HEADER_SIZE - len(head))
        assert chunk, "the server closed the connection"
        head += chunk
    length = int.from_bytes(head[12:16], "little")
    length += TAG_SIZE if head[6] & Flags.TAGGED else 0
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, "the server closed the connection"
        body += chunk
    return head[5], body[: int.from_bytes(head[12:16], "little")]


def raw_handshake(sock: socket.socket, secret: bytes = b"") -> bool:
    """HELLO and AUTH by hand, as docs/protocol.md lays them out; False: the server is busy.

    A server busy with another host says so in reply to a correct AUTH (before issue 26:
    to the HELLO).
    """
    ours = os.urandom(32)
    sock.sendall(frame(MessageType.HELLO, ours))
    kind, hello = recv_frame(sock)
    if kind == MessageType.ERROR and hello.startswith(b"busy:"):
        return False
    assert kind == MessageType.HELLO, (kind, hello)
    theirs, suite = hello[:32], hello[32]
    sock.sendall(frame(MessageType.AUTH, host_proof(secret, theirs, ours, suite)))
    kind, proof = recv_frame(sock)
    if kind == MessageType.ERROR and proof.startswith(b"busy:"):
        return False
    assert kind == MessageType.OK, (kind, proof)
    assert proof == target_proof(secret, ours, theirs, suite)
    return True


def recv_frames(
    sock: socket.socket, timeout: float = 5.0, quiet: float = 0.3
) -> list[tuple[int, bytes]]:
    """Every (type, payload) the peer sends until it closes or goes ``quiet`` seconds."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            sock.settimeout(quiet)
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    frames, offset = [], 0
    while offset + HEADER_SIZE <= len(data):
        length = int.from_bytes(data[offset + 12 : offset + 16], "little")
        frames.append(
            (data[offset + 5], data[offset + HEADER_SIZE : offset + HEADER_SIZE + length])
        )
        tag = TAG_SIZE if data[offset + 6] & Flags.TAGGED else 0
        offset += HEADER_SIZE + length + tag
    return frames


def frame(type: int, payload: bytes = b"", packet_size: int = 1 << 16) -> bytes:
    return b"".join(bytes(b) for b in encode_frames(type, payload, packet_size))


OK_FRAME = frame(MessageType.OK)


class ServerProcess:
    """A running ``inference_server``: the process, its endpoint and its log lines."""

    def __init__(self, proc: subprocess.Popen[str], endpoint: str) -> None:
        self.proc = proc
        self.endpoint = endpoint
        self.log: list[str] = []
        self._changed = threading.Condition()
        # Reading stderr all the time keeps a chatty server from blocking on a full pipe.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.log.append(line)
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        with self._changed:
            found = self._changed.wait_for(lambda: any(text in x for x in self.log), timeout)
        assert found, f"server never logged {text!r}: {''.join(self.log)[-2000:]}"


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Terminate ``proc``; kill it if it is still there 10 s later."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def server_process(args: Sequence[str | Path], timeout: float = 60) -> Iterator[ServerProcess]:
    """``python -m kenning.scenarios.inference_server ARGS``, listening."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kenning.scenarios.inference_server", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    server = None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on "), (line, proc.stderr and proc.stderr.read())
        server = ServerProcess(proc, line.removeprefix("listening on "))
        yield server
    finally:
        stop_process(proc)
        if server is not None:
            server._reader.join(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

"""What a peer or the disk cannot do to a target server (issue 26).

Real servers (threads, and ``inference_server`` processes where a limit must apply to the
server's own process), real sockets, a real pseudo-terminal line and real files: a host on a
serial line proves the secret even after another was dropped, a host dropped for idling is
told so first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest_protocol import (
    SPEC,
    full_exchange,
    model_file,
    raw_connection,
    recv_frames,
    thread_server,
)

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.errors import RemoteError
from kenning.runtimeprotocols.ptylink import PtyLink
from kenning.runtimeprotocols.serial import SerialProtocol
from kenning.runtimeprotocols.server import InferenceServer
from kenning.runtimeprotocols.wire import MessageType
from kenning.runtimes.null import NullRuntime

SECRET = b"26" * 32


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.02)


@pytest.fixture
def line_server(tmp_path: Path) -> Iterator[tuple[InferenceServer, str]]:
    """A server with a secret on one end of a PtyLink; yields it and the host's end."""
    with PtyLink() as (target, host):
        protocol = SerialProtocol(target, timeout=1.0)
        protocol.use_secret(SECRET)
        server = InferenceServer(protocol, NullRuntime(tmp_path / "target" / "model.bin"),
                                 idle_timeout=0.5, monitor_interval=0.05)  # fmt: skip
        protocol.initialize_server()
        thread = threading.Thread(target=server.serve, kwargs={"poll": 0.05, "initialize": False})
        thread.start()
        try:
            yield server, host
        finally:
            server.stop_event.set()
            thread.join(5)
        assert not thread.is_alive()


def test_on_a_serial_line_the_host_after_an_authenticated_one_must_prove_the_secret(
    line_server: tuple[InferenceServer, str], tmp_path: Path
) -> None:
    server, line = line_server
    host = ProtocolClient(SerialProtocol(line, timeout=5.0))
    host.protocol.use_secret(SECRET)
    host.connect()
    host.upload_io_spec(SPEC)
    host.upload_model(model_file(tmp_path, 2_000))
    assert full_exchange(host)[2] == bytes(40)
    host.close()
    sessions = server.clients_served
    _wait(lambda: server.clients_served > sessions, 10, "the idle host dropped")
    for request in (MessageType.STATS, MessageType.PROCESS):
        stranger = ProtocolClient(SerialProtocol(line, timeout=5.0))  # holds no secret
        stranger.protocol.initialize_client()
        stranger.protocol.send_message(request)
        with pytest.raises(RemoteError, match=f"{request.name} before the handshake"):
            stranger._reply(request.name)
        stranger.close()
        time.sleep(0.3)  # the target drains the line after a refusal
    host = ProtocolClient(SerialProtocol(line, timeout=5.0))
    host.protocol.use_secret(SECRET)
    host.connect()
    assert full_exchange(host)[2] == bytes(40)  # the model stays loaded on a line
    host.close()


def test_a_host_dropped_for_idling_is_told_so_first(tmp_path: Path) -> None:
    with thread_server(tmp_path, idle_timeout=0.3) as srv:
        with raw_connection(srv.port) as sock:
            start = time.monotonic()
            frames = recv_frames(sock, timeout=5)
        assert frames == [(MessageType.ERROR, b"idle for 0.3 s: closing")]
        assert time.monotonic() - start < 3

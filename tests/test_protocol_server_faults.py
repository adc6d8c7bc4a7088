"""What a peer or the disk cannot do to a target server (issue 26).

Real servers (threads, and ``inference_server`` processes where a limit must apply to the
server's own process), real sockets, a real pseudo-terminal line and real files: a host on a
serial line proves the secret even after another was dropped; a host dropped for idling is
told so first; connections that never finish the handshake hold nothing (several handshakes
run at once, a bounded number); a host told "busy" is closed at once; and a disk that fails
(a file too large for the server's RLIMIT_FSIZE, a folder where the model goes, a folder
planted at a name the server might use) is an ERROR to the host naming the path and the
system's error: nothing of the user's moves, and the server serves on.
"""

from __future__ import annotations

import os
import resource
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest_protocol import (
    ROOT,
    SPEC,
    full_exchange,
    model_file,
    raw_connection,
    raw_handshake,
    recv_frames,
    stop_process,
    thread_server,
)

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.errors import RemoteError
from kenning.runtimeprotocols.lobby import MAX_PENDING
from kenning.runtimeprotocols.network import NetworkProtocol
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
    import serial

    with serial.Serial(line, 115200, timeout=1.5) as quiet:  # nobody there: nobody is told
        assert quiet.read(1) == b""  # "idle", three --idle-timeouts long
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
        reply = stranger.protocol.receive_message()
        if reply.payload == b"idle for 0.5 s: closing":  # to the host before, still in the link
            reply = stranger.protocol.receive_message()
        assert reply.type == MessageType.ERROR, reply
        assert f"{request.name} before the handshake" in bytes(reply.payload).decode()
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


def _client(port: int, timeout: float = 10.0) -> ProtocolClient:
    client = ProtocolClient(NetworkProtocol(port=port, timeout=timeout))
    client.connect()
    client.upload_io_spec(SPEC)
    return client


def test_a_file_too_large_for_the_disk_is_an_error_and_the_server_serves_on(
    tmp_path: Path,
) -> None:
    limit = 64 << 10
    saved = tmp_path / "target" / "model.bin"

    def cap() -> None:  # in the server's process only: "File too large" (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "kenning.scenarios.inference_server", "network", "null",
               "--save-model-path", str(saved), "--port", "0", "--timeout", "5"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, preexec_fn=cap)  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the server did not start within 60 s"
        line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        port = int(line.rsplit(":", 1)[1])
        client = _client(port)
        with pytest.raises(RemoteError, match=rf"cannot store {saved}: File too large"):
            client.upload_model(model_file(tmp_path, 4 * limit))
        client.upload_model(model_file(tmp_path, 1000))  # the same session goes on
        assert full_exchange(client)[2] == bytes(40)
        client.close()
        client = _client(port)  # and the next host is served
        client.upload_model(model_file(tmp_path, 2000))
        assert full_exchange(client)[2] == bytes(40)
        client.close()
        assert proc.poll() is None
        assert saved.stat().st_size == 2000
        assert sorted(p.name for p in saved.parent.iterdir()) == [
            "model.bin",
            "model.bin.iospec.json",
        ]
    finally:
        stop_process(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_a_folder_made_at_the_model_path_after_start_is_an_error_and_is_left_alone(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "target" / "model.bin"
    with thread_server(tmp_path, idle_timeout=10) as srv:
        folder.mkdir(parents=True)
        (folder / "mine.txt").write_text("the user's")
        client = _client(srv.port)
        with pytest.raises(RemoteError, match=rf"cannot store {folder}: a folder is there"):
            client.upload_model(model_file(tmp_path, 1000))
        assert (folder / "mine.txt").read_text() == "the user's"
        assert sorted(p.name for p in folder.parent.iterdir()) == [
            "model.bin",
            "model.bin.iospec.json",
        ]
        os.remove(folder / "mine.txt")
        folder.rmdir()
        client.upload_model(model_file(tmp_path, 1000))  # the session goes on
        assert full_exchange(client)[2] == bytes(40)
        client.close()
        assert srv.thread.is_alive()


def test_a_folder_planted_where_the_old_model_went_is_never_touched(tmp_path: Path) -> None:
    target = tmp_path / "target"
    with thread_server(tmp_path, idle_timeout=10) as srv:
        client = _client(srv.port)
        client.upload_model(model_file(tmp_path, 1000))
        planted = target / ".model.bin.previous"
        planted.mkdir()
        (planted / "mine.txt").write_text("the user's")
        client.upload_model(model_file(tmp_path, 3000))  # replaces the first model
        assert full_exchange(client)[2] == bytes(40)
        client.close()
        assert srv.thread.is_alive()
    assert (planted / "mine.txt").read_text() == "the user's"
    assert (target / "model.bin").stat().st_size == 3000
    assert sorted(p.name for p in target.iterdir()) == [
        ".model.bin.previous",
        "model.bin",
        "model.bin.iospec.json",
    ]


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (reading what it sent)."""
    sock.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while sock.recv(4096):
            if time.monotonic() > deadline:
                return False
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_silent_clients_reconnecting_in_a_loop_do_not_keep_real_hosts_out(
    tmp_path: Path,
) -> None:
    stop = threading.Event()

    def silent() -> None:  # connects, says nothing, reconnects as soon as it is dropped
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", srv.port), timeout=1) as sock:
                    while not stop.is_set():
                        try:
                            if not sock.recv(4096):
                                break
                        except TimeoutError:
                            continue
            except OSError:
                time.sleep(0.01)

    with thread_server(tmp_path, timeout=3.0, handshake_timeout=10.0) as srv:
        squatters = [threading.Thread(target=silent) for _ in range(4)]
        for thread in squatters:
            thread.start()
        try:
            time.sleep(0.3)  # every squatter connected
            for round_ in range(4):
                start = time.monotonic()
                client = _client(srv.port, timeout=3.0)
                client.upload_model(model_file(tmp_path, 1000 + round_))
                assert full_exchange(client)[2] == bytes(40)
                client.close()
                assert time.monotonic() - start < 2.0, round_
        finally:
            stop.set()
            for thread in squatters:
                thread.join(5)


def test_pending_handshakes_are_bounded_and_silent_ones_cannot_keep_a_host_out(
    tmp_path: Path,
) -> None:
    with thread_server(tmp_path, timeout=3.0, handshake_timeout=10.0) as srv:
        silent = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(MAX_PENDING)]
        try:
            time.sleep(0.5)  # the lobby holds every one of them
            start = time.monotonic()
            client = _client(srv.port, timeout=5.0)  # one more: the oldest silent one goes
            assert time.monotonic() - start < 1.0
            assert _closed(silent[0], 1.0)  # without a word
            assert not _closed(silent[-1], 0.2)  # the others still wait for their deadline
            client.upload_model(model_file(tmp_path, 1000))
            assert full_exchange(client)[2] == bytes(40)
            client.close()
        finally:
            for sock in silent:
                sock.close()


def test_a_host_told_busy_is_closed_at_once_and_cannot_pin_the_server(tmp_path: Path) -> None:
    with thread_server(tmp_path, timeout=3.0, idle_timeout=30) as srv:
        served = _client(srv.port)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as pinner:
            assert not raw_handshake(pinner)  # busy
            stop = threading.Event()

            def drip() -> None:  # a byte every 0.5 s, as long as the socket takes them
                while not stop.wait(0.5):
                    try:
                        pinner.sendall(b"K")
                    except OSError:
                        return

            dripper = threading.Thread(target=drip)
            dripper.start()
            try:
                assert _closed(pinner, 1.5)
                for _ in range(3):  # other hosts are answered at once meanwhile
                    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as other:
                        start = time.monotonic()
                        assert not raw_handshake(other)
                        assert time.monotonic() - start < 1.0
            finally:
                stop.set()
                dripper.join(5)
        served.upload_model(model_file(tmp_path, 1000))
        assert full_exchange(served)[2] == bytes(40)
        served.close()

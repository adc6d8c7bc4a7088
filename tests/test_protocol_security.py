"""Who may drive a server, and what a peer cannot make it do (issue 15).

Real servers (threads and ``inference_server`` processes), real sockets, real files: a
host without the run's secret gets ERROR and no model loads, a server that does not know
the secret gets no model, a fuzzed handshake leaves the server serving, idle and dripping
hosts are dropped by their deadlines while a real host is told "busy" at once and then
served, a header claiming 256 MiB under a 600 MB address-space cap costs the server
nothing, a truncated native library is an ERROR, and planted files are never used.
"""

from __future__ import annotations

import os
import random
import resource
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest_protocol import (
    ROOT,
    SPEC,
    frame,
    full_exchange,
    raw_connection,
    raw_handshake,
    ready_client,
    recv_frame,
    recv_frames,
    stop_process,
    thread_server,
)

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.errors import (
    AuthenticationError,
    RemoteError,
)
from kenning.runtimeprotocols.frameauth import AES_GCM
from kenning.runtimeprotocols.handshake import host_proof
from kenning.runtimeprotocols.network import NetworkProtocol
from kenning.runtimeprotocols.wire import Flags, MessageType, encode_header
from kenning.utils.errors import ConfigurationError

SECRET = b"5e" * 32


def _client(port: int, secret: bytes | None, timeout: float = 2.0) -> ProtocolClient:
    client = ProtocolClient(NetworkProtocol(port=port, timeout=timeout))
    if secret is not None:
        client.protocol.use_secret(secret)
    return client


def test_only_a_host_with_the_secret_is_served_and_nothing_loads_for_the_others(
    tmp_path: Path,
) -> None:
    saved = tmp_path / "target" / "model.bin"
    with thread_server(tmp_path, secret=SECRET) as srv:
        for wrong in (b"x" * 64, None):
            with pytest.raises(RemoteError, match="authentication failed"):
                _client(srv.port, wrong).connect()
        with raw_connection(srv.port, handshake=False) as sock:  # straight to work
            sock.sendall(frame(MessageType.IOSPEC, SPEC.model_dump_json().encode()))
            sock.sendall(frame(MessageType.MODEL, bytes(1000)))
            frames = recv_frames(sock)
        assert [kind for kind, _ in frames] == [MessageType.ERROR]  # then closed
        assert b"IOSPEC before the handshake" in frames[0][1]
        with raw_connection(srv.port, handshake=False) as sock:  # a proof for another nonce
            ours = os.urandom(32)
            sock.sendall(frame(MessageType.HELLO, ours))
            kind, _ = recv_frame(sock)
            proof = host_proof(SECRET, os.urandom(32), ours, AES_GCM)
            sock.sendall(frame(MessageType.AUTH, proof))
            frames = recv_frames(sock)
        assert kind == MessageType.HELLO and b"authentication failed" in frames[0][1]
        assert not saved.exists() and not srv.server.requests.model_loaded
        client = ready_client(srv.port, tmp_path, secret=SECRET)
        assert full_exchange(client)[2] == bytes(40)
        client.close()
    assert saved.stat().st_size == 1000


def test_a_host_sends_nothing_to_a_server_that_cannot_prove_the_secret() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    after: list[bytes] = []

    def impostor() -> None:
        sock = listener.accept()[0]
        sock.settimeout(2)
        recv_frame(sock)  # HELLO
        sock.sendall(frame(MessageType.HELLO, os.urandom(32) + bytes([AES_GCM])))
        recv_frame(sock)  # AUTH
        sock.sendall(frame(MessageType.OK, bytes(32)))
        try:
            after.append(sock.recv(65536))
        except OSError:
            after.append(b"")
        sock.close()

    thread = threading.Thread(target=impostor)
    thread.start()
    with pytest.raises(AuthenticationError, match="does not hold this run's secret"):
        _client(listener.getsockname()[1], SECRET).connect()
    thread.join(5)
    listener.close()
    assert after == [b""]  # the host hung up and sent no IOSPEC, no model


def _fuzz_session(rng: random.Random) -> bytes:
    kinds = [int(t) for t in MessageType] + [10, 99, 255]
    pieces = []
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.3:
            pieces.append(rng.randbytes(rng.randint(1, 200)))
        elif choice < 0.6:
            kind = rng.choice([MessageType.HELLO, MessageType.AUTH])
            pieces.append(frame(kind, rng.randbytes(rng.choice([0, 31, 32, 33, 64]))))
        elif choice < 0.8:
            pieces.append(frame(rng.choice(kinds), rng.randbytes(rng.randint(0, 300))))
        else:  # a header promising much more than follows
            total = rng.choice([1 << 20, 1 << 28, 0xFFFFFFFF])
            pieces.append(encode_header(rng.choice(kinds), 1, total, 4096, 0) + b"\0" * 100)
    data = b"".join(pieces)
    cut = rng.random()
    return data[: rng.randint(1, len(data))] if cut < 0.3 else data


def test_a_fuzzed_handshake_leaves_the_server_serving(tmp_path: Path) -> None:
    rng = random.Random(15)
    sessions = 300
    with thread_server(tmp_path, timeout=0.3, handshake_timeout=0.5, secret=SECRET) as srv:
        for _ in range(sessions):
            with raw_connection(srv.port, handshake=False) as sock:
                try:
                    sock.sendall(_fuzz_session(rng))
                except OSError:  # the server may have hung up already
                    pass
        assert srv.thread.is_alive() and not srv.server.requests.model_loaded
        assert not (tmp_path / "target" / "model.bin").exists()
        client = ready_client(srv.port, tmp_path, timeout=10, secret=SECRET)
        assert full_exchange(client)[2] == bytes(40)
        client.close()


def test_idle_and_dripping_hosts_are_dropped_while_a_real_one_is_served_at_once(
    tmp_path: Path,
) -> None:
    # deadlines scaled down for the test: handshake 1 s, header 2 x --timeout = 1 s
    with thread_server(tmp_path, timeout=0.5, handshake_timeout=1.0) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port))
        time.sleep(0.1)
        start = time.monotonic()
        client = ready_client(srv.port, tmp_path, timeout=5)
        waited = time.monotonic() - start
        assert waited < 0.8, waited  # the idle host's pending handshake holds nothing
        with raw_connection(srv.port, handshake=False) as second:
            start = time.monotonic()
            assert not raw_handshake(second)  # it proved the secret: told busy
            assert time.monotonic() - start < 0.5  # at once
            second.settimeout(2)
            assert second.recv(10) == b""  # and closed
        full_exchange(client)
        client.close()
        idle.settimeout(2)
        frames = recv_frames(idle)
        idle.close()
        assert frames and b"deadline passed: the handshake" in frames[0][1]

        with raw_connection(srv.port) as drip:  # past the handshake, then a byte every 0.2 s
            stop = threading.Event()

            def dribble() -> None:
                for byte in frame(MessageType.DATA, bytes(64)):
                    if stop.wait(0.2):
                        return
                    try:
                        drip.sendall(bytes([byte]))
                    except OSError:
                        return

            thread = threading.Thread(target=dribble)
            start = time.monotonic()
            thread.start()
            kind, text = recv_frame(drip)
            dropped = time.monotonic() - start
            stop.set()
            thread.join()
        assert kind == MessageType.ERROR and b"deadline passed: a whole frame header" in text
        assert dropped < 2.0, dropped
        client = ready_client(srv.port, tmp_path)
        full_exchange(client)
        client.close()


def test_keepalive_is_on_for_both_ends(tmp_path: Path) -> None:
    with thread_server(tmp_path) as srv:
        client = ready_client(srv.port, tmp_path)
        for sock in (client.protocol.sock, srv.server.protocol.sock):  # type: ignore[attr-defined]
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        client.close()


def test_a_planted_partial_link_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in ("model.bin.partial", ".model.bin.partial", ".model.bin.previous"):
        (target / name).symlink_to(victim)
    with thread_server(tmp_path) as srv:
        client = ready_client(srv.port, tmp_path)
        full_exchange(client)
        client.close()
    assert victim.read_text() == "keep me"
    assert (target / "model.bin").stat().st_size == 1000
    assert stat.S_IMODE((target / "model.bin").stat().st_mode) == 0o600


@contextmanager
def _server(
    tmp_path: Path, *args: str, secret: str | None = None, limit_kib: int | None = None
) -> Iterator[subprocess.Popen[str]]:
    def cap() -> None:
        if limit_kib is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_kib * 1024, limit_kib * 1024))

    command = [sys.executable, "-m", "kenning.scenarios.inference_server", "network", *args,
               "--port", "0", *(["--secret-file", "-"] if secret else [])]  # fmt: skip
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=cap)  # fmt: skip
    assert proc.stdin and proc.stdout
    proc.stdin.write((secret or "") + "\n")
    proc.stdin.close()
    try:
        yield proc
    finally:
        stop_process(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on "), (line, proc.stderr and proc.stderr.read())
    return int(line.rsplit(":", 1)[1])


def test_a_256_mib_data_header_under_a_600_mb_cap_costs_nothing(tmp_path: Path) -> None:
    secret = "ab" * 32
    with _server(tmp_path, "null", "--save-model-path", str(tmp_path / "t" / "m.bin"),
                 "--timeout", "1", secret=secret, limit_kib=600_000) as proc:  # fmt: skip
        port = _port(proc)
        claim = 256 << 20
        client = ready_client(port, tmp_path, secret=secret.encode())
        tagged = Flags.TAGGED  # past the header check of an authenticated session
        client.protocol.write([encode_header(MessageType.DATA, tagged, claim, claim, 0)])
        client.protocol.write([bytes(1 << 20)])
        client.close()  # and gone
        client = ready_client(port, tmp_path, secret=secret.encode())
        # a whole 256 MiB input fits: it is received straight into the memory the model's
        # process reads (no copy on the way), and a copy would not fit under the cap
        client.upload_input(bytes(claim))
        client.close()
        client = ready_client(port, tmp_path, secret=secret.encode())
        full_exchange(client)
        client.close()
        assert proc.poll() is None


def test_a_truncated_native_library_is_an_error_not_a_crash(tmp_path: Path) -> None:
    library = min(Path(np.__file__).parent.rglob("*.so"), key=lambda p: p.stat().st_size)
    cut = tmp_path / "cut.so"
    cut.write_bytes(library.read_bytes()[: library.stat().st_size // 2])
    with _server(tmp_path, "tvm", "--save-model-path", str(tmp_path / "t" / "model.so")) as proc:
        port = _port(proc)
        for _ in range(2):
            client = _client(port, None, timeout=30)
            client.connect()
            client.upload_io_spec(SPEC)
            with pytest.raises(RemoteError, match=r"model failed to load: .* is cut short"):
                client.upload_model(cut)
            client.close()
        assert proc.poll() is None


def test_a_folder_at_save_model_path_is_refused_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    run = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.inference_server", "network", "null",
         "--save-model-path", str(folder), "--port", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.startswith("error: --save-model-path") and "is a folder" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert (folder / "notes.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


def test_the_secret_comes_on_stdin_and_never_on_the_command_line(tmp_path: Path) -> None:
    secret = "cd" * 32
    mine = tmp_path / "secret"
    mine.write_text(secret + "\n")
    mine.chmod(0o600)
    with _server(tmp_path, "null", "--save-model-path", str(tmp_path / "t" / "m.bin"),
                 "--host", "0.0.0.0", secret=secret) as proc:  # fmt: skip
        port = _port(proc)
        assert secret not in Path(f"/proc/{proc.pid}/cmdline").read_text()
        client = ProtocolClient(NetworkProtocol(port=port, timeout=5, secret_file=str(mine)))
        client.connect()
        client.close()
        mine.chmod(0o644)
        shared = ProtocolClient(NetworkProtocol(port=port, timeout=5, secret_file=str(mine)))
        with pytest.raises(ConfigurationError, match="chmod 600"):
            shared.connect()


def test_listening_beyond_loopback_needs_a_secret(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.inference_server", "network", "null",
         "--host", "0.0.0.0", "--port", "0", "--save-model-path", str(tmp_path / "m.bin")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and run.stderr.startswith("error: --host 0.0.0.0 without")
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_missing_delegate_stops_the_server_at_start(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.inference_server", "network", "tflite",
         "--save-model-path", str(tmp_path / "m.tflite"), "--port", "0",
         "--delegates-list", str(tmp_path / "libedgetpu.so.1")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and "listening" not in run.stdout
    assert run.stderr.startswith("error: --delegates-list: cannot load TFLite delegate")

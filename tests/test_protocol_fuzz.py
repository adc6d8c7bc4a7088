"""Random and mutated frames thrown at a live inference_server; then a normal session works."""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_protocol import (
    SAMPLE,
    SPEC,
    ServerProcess,
    frame,
    full_exchange,
    ready_client,
    server_process,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenning.runtimeprotocols.wire import HEADER_SIZE, MAGIC, MessageType

VALID_SESSION = [
    frame(MessageType.IOSPEC, SPEC.model_dump_json().encode()),
    frame(MessageType.MODEL, bytes(range(200)), packet_size=64),
    frame(MessageType.DATA, SAMPLE),
    frame(MessageType.PROCESS),
    frame(MessageType.OUTPUT),
    frame(MessageType.STATS),
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")
    args = [
        "network",
        "null",
        "--save-model-path",
        tmp / "m.bin",
        "--port",
        "0",
        "--timeout",
        "0.5",
        "--idle-timeout",
        "2",
        "--max-payload-size",
        "100000",
    ]
    with server_process(args) as server:
        yield server


def header_with_good_crc(fields: tuple[int, int, int, int, int, int]) -> bytes:
    version, type_, flags, total, length, crc = fields
    prefix = struct.pack("<4sBBHIII", MAGIC, version, type_, flags, total, length, crc)
    return prefix + struct.pack("<I", zlib.crc32(prefix))


@st.composite
def mutated_session(draw: st.DrawFn) -> bytes:
    frames = draw(st.lists(st.sampled_from(VALID_SESSION), min_size=1, max_size=6))
    data = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=30))
        else:
            fields = (
                draw(st.sampled_from([1, 1, 1, 0, 2, 255])),
                draw(st.integers(0, 255)),
                draw(st.sampled_from([0, 1, 2, 0xFFFF])),
                draw(st.integers(0, 0xFFFFFFFF)),
                draw(st.integers(0, 300)),
                draw(st.integers(0, 0xFFFFFFFF)),
            )
            data[pos:pos] = header_with_good_crc(fields)
    return bytes(data)


def throw(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:  # reset, broken pipe, not connected
            pass  # the server may hang up on garbage before reading all of it


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        mutated_session(),
        st.builds(lambda b: MAGIC + b, st.binary(max_size=60)),
    )
)
def test_server_survives_random_and_mutated_frames(
    live_server: ServerProcess, data: bytes
) -> None:
    throw(live_server.port, data)
    assert live_server.proc.poll() is None


def test_a_normal_session_works_after_the_fuzzing(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    throw(live_server.port, b"KENN" + bytes(HEADER_SIZE))
    client = ready_client(live_server.port, tmp_path)
    for _ in range(3):
        assert full_exchange(client)[2] == bytes(40)
    client.close()
    assert live_server.proc.poll() is None
    assert not [line for line in live_server.log if "Traceback" in line]
    assert any("bad frame" in line for line in live_server.log)

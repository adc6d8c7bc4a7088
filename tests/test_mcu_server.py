"""The C target server on emulated Cortex-M boards, driven by kenning's own host over a pty.

The firmware (targets/mcu, with the stand-in model of targets/mcu/tests/stub_model) runs under
``qemu-system-arm`` on both boards; the host is the same ``ProtocolClient`` that benches Linux
boards. The handshake, the HMAC-SHA256 frame tags, every request and every refusal are the C
server's own; after fuzzing, the board must still serve a host (a fault would stop it).
"""

from __future__ import annotations

import os
import random
import select
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mcuboards import BOARDS, STUB_SHA256, client, started, stub_firmware

from kenning.boards.qemu import wait_until_serving
from kenning.runtimeprotocols.errors import ForgedFrameError, RemoteError
from kenning.runtimeprotocols.wire import MessageType, encode_frame, encode_header

pytestmark = pytest.mark.slow

SAMPLE = np.arange(16, dtype=np.float32)
#: the stand-in model: each output is twice the sum of four inputs, plus one
EXPECTED = (2 * SAMPLE.reshape(4, 4).sum(axis=1) + 1).astype(np.float32)


@pytest.fixture(scope="module", params=BOARDS)
def board(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    folder = tmp_path_factory.mktemp("mcu")
    firmware = stub_firmware(request.param, folder)
    with started(firmware, request.param, folder / "run") as running:
        yield running


def _exchange(line: str, secret_file: Path) -> dict:
    with client(line, secret_file) as host:
        info = dict(host.target_info or {}, **_json(host.request(MessageType.MODEL, STUB_SHA256)))
        host.upload_input(SAMPLE.tobytes())
        _, on_target = host.request_processing()
        out = np.frombuffer(bytes(host.download_output()), np.float32)
        np.testing.assert_array_equal(out, EXPECTED)
        stats = host.download_statistics()
        assert on_target > 0 and stats["inference_time_s"] == pytest.approx([on_target])
        return dict(info, stats=stats)


def _json(payload: bytes | bytearray) -> dict:
    import json

    return json.loads(bytes(payload))


def test_a_host_with_the_secret_is_served(board) -> None:
    running, secret_file = board
    info = _exchange(running.line, secret_file)
    assert info["firmware_model"] is True and info["sha256"] == STUB_SHA256.hex()
    assert info["board"] == running.board
    stats = info["stats"]
    assert 0 < stats["stack_high_water_bytes"] < stats["stack_bytes"]
    assert stats["flash_bytes"] > 0 and stats["ram_bytes"] > stats["stack_bytes"]


def test_a_wrong_secret_is_refused(board, tmp_path: Path) -> None:
    running, secret_file = board
    wrong = tmp_path / "wrong"
    wrong.write_text("00" * 32 + "\n")
    wrong.chmod(0o600)
    with pytest.raises(RemoteError, match="authentication failed"):
        client(running.line, wrong).connect()
    _exchange(running.line, secret_file)  # and the right host is served after it


def test_requests_before_the_handshake_are_refused(board) -> None:
    running, _ = board
    data = encode_frame(MessageType.DATA, False, 3, b"abc")
    # the first ends whatever session the line had (an untagged frame in it), the second is
    # outside any session
    first, second = _raw(running.line, [data]), _raw(running.line, [data])
    assert b"DATA before the handshake" in first or b"a frame without a tag" in first
    assert b"DATA before the handshake" in second


def test_another_model_and_a_wrong_size_are_errors(board) -> None:
    running, secret_file = board
    with client(running.line, secret_file) as host:
        with pytest.raises(RemoteError, match="this firmware holds model stub"):
            host.request(MessageType.MODEL, bytes(32))
        host.request(MessageType.MODEL, STUB_SHA256)
        with pytest.raises(RemoteError, match="input of 12 bytes is not one 64-byte sample"):
            host.upload_input(b"x" * 12)
        with pytest.raises(RemoteError, match="no input"):
            host.request_processing()
        host.upload_input(SAMPLE.tobytes())  # the session goes on
        host.request_processing()
        assert np.frombuffer(bytes(host.download_output()), np.float32)[0] == EXPECTED[0]


def test_an_untagged_frame_in_a_session_ends_it(board) -> None:
    running, secret_file = board
    host = client(running.line, secret_file)
    host.connect()
    try:
        host.request(MessageType.MODEL, STUB_SHA256)
        host.protocol.write(encode_frame(MessageType.DATA, False, 64, SAMPLE.tobytes()))
        with pytest.raises((RemoteError, ForgedFrameError), match="without a tag"):
            host.request(MessageType.STATS)
    finally:
        host.close()
    _exchange(running.line, secret_file)


def _raw(line: str, frames: list, wait: float = 0.6) -> bytes:
    """Write ``frames`` (lists of buffers) on the line as a stranger; what came back."""
    fd = os.open(line, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        for frame in frames:
            data = b"".join(bytes(b) for b in frame) if isinstance(frame, list) else frame
            for at in range(0, len(data), 4096):
                _write_all(fd, data[at : at + 4096])
        heard = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.05)[0]:
                heard += os.read(fd, 65536)
                deadline = max(deadline, time.monotonic() + 0.2)
        return heard
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    deadline = time.monotonic() + 10
    while view and time.monotonic() < deadline:
        select.select([], [fd], [], 0.1)
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue
    assert not view, "the board stopped reading its UART"


def _fuzz_cases(rng: random.Random) -> list[bytes]:
    valid = b"".join(bytes(b) for b in encode_frame(MessageType.HELLO, False, 32, bytes(32)))
    cases = [rng.randbytes(rng.randrange(1, 300)) for _ in range(10)]
    for _ in range(30):  # a valid frame with one bit flipped, anywhere
        flipped = bytearray(valid)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        cases.append(bytes(flipped))
    for type_ in range(256):  # every type with a consistent header and a random payload
        size = rng.choice((0, 1, 33, 300))
        cases.append(encode_header(type_, 0, size, size, 0)[:20] + rng.randbytes(4 + size))
    cases.append(encode_header(MessageType.DATA, 0, 1 << 31, 1 << 31, 0))  # 2 GiB claimed
    cases.append(encode_header(MessageType.MODEL, 1, 64, 0, 0))  # MORE with no payload
    cases.append(valid[:30])  # cut short: the board must time out of it
    return cases


def test_fuzzed_frames_never_fault_the_board(board) -> None:
    running, secret_file = board
    rng = random.Random(27)
    for case in _fuzz_cases(rng):
        _raw(running.line, [case], wait=0.05)
    # a serial line has no connections: the last case (a frame cut short) waits for more bytes
    # until its timeout, and a host's HELLO now would complete it; a stranger's zeros do, and
    # the board drains the line after each refusal: a host comes when it answers again
    _raw(running.line, [bytes(100)], wait=0.1)
    assert wait_until_serving(running.line, 30.0), "the board stopped answering"
    assert running.alive()
    _exchange(running.line, secret_file)

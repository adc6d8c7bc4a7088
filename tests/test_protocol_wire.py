"""The wire format: golden bytes (as in docs/protocol.md), round trips, and every check."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest_protocol import frame
from hypothesis import given, settings
from hypothesis import strategies as st

from kenning.runtimeprotocols.errors import ConnectionClosedError, FrameError, ProtocolTimeoutError
from kenning.runtimeprotocols.frameauth import AES_GCM, HMAC_SHA256, FrameTagger
from kenning.runtimeprotocols.handshake import host_proof, target_proof
from kenning.runtimeprotocols.reader import FrameReader
from kenning.runtimeprotocols.wire import (
    HEADER_SIZE,
    MAGIC,
    VERSION,
    MessageType,
    encode_frames,
)

ROOT = Path(__file__).resolve().parent.parent

GOLDEN = {
    "ok": (
        (MessageType.OK, b"", 1 << 16),
        "4b 45 4e 4e 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 08 8a d7 ed",
    ),
    "data": (
        (MessageType.DATA, b"\x01\x02\x03", 1 << 16),
        "4b 45 4e 4e 03 02 00 00 03 00 00 00 03 00 00 00 1d 80 bc 55 87 3e 77 ac 01 02 03",
    ),
    "model-chunked": (
        (MessageType.MODEL, b"abcdef", 4),
        "4b 45 4e 4e 03 03 01 00 06 00 00 00 04 00 00 00 11 cd 82 ed f8 fb 0e ac 61 62 63 64 "
        "4b 45 4e 4e 03 03 00 00 06 00 00 00 02 00 00 00 70 49 82 fd 57 20 7f 8f 65 66",
    ),
    "process-finished": (
        (MessageType.OK, struct.pack("<d", 0.00125), 1 << 16),
        "4b 45 4e 4e 03 00 00 00 08 00 00 00 08 00 00 00 03 60 58 91 03 f7 36 97 "
        "7b 14 ae 47 e1 7a 54 3f",
    ),
}


HANDSHAKE_KEY = b"0123456789abcdef0123456789abcdef"
SUITE = AES_GCM
HANDSHAKE = {  # client nonce 00..1f, server nonce 20..3f, secret HANDSHAKE_KEY, AES-GCM tags
    "hello-host": (MessageType.HELLO, bytes(range(32))),
    "hello-target": (MessageType.HELLO, bytes(range(32, 64)) + bytes([SUITE])),
    "auth": (
        MessageType.AUTH,
        host_proof(HANDSHAKE_KEY, bytes(range(32, 64)), bytes(range(32)), SUITE),
    ),
    "ok-proof": (
        MessageType.OK,
        target_proof(HANDSHAKE_KEY, bytes(range(32)), bytes(range(32, 64)), SUITE),
    ),
}


class StreamSource:
    """A byte stream that hands out at most ``step`` bytes per read, then ends."""

    def __init__(self, data: bytes, step: int = 1 << 20, end: str = "closed") -> None:
        self.data, self.pos, self.step, self.end = data, 0, step, end

    def __call__(self, view: memoryview, timeout: float | None) -> int:
        if self.pos >= len(self.data):
            if self.end == "closed":
                raise ConnectionClosedError("the peer closed the connection")
            raise ProtocolTimeoutError("data", timeout)
        n = min(len(view), self.step, len(self.data) - self.pos)
        view[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def reader(
    data: bytes, step: int = 1 << 20, end: str = "closed", max_size: int = 1 << 20
) -> FrameReader:
    return FrameReader(StreamSource(data, step, end), max_size, buffer_size=256)


def header(
    type_: int = 2,
    flags: int = 0,
    total: int = 3,
    length: int = 3,
    payload: bytes = b"\x01\x02\x03",
    magic: bytes = MAGIC,
    version: int = VERSION,
) -> bytes:
    prefix = struct.pack(
        "<4sBBHIII", magic, version, type_, flags, total, length, zlib.crc32(payload)
    )
    return prefix + struct.pack("<I", zlib.crc32(prefix))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_bytes(name: str) -> None:
    (type_, payload, packet_size), expected = GOLDEN[name]
    assert frame(type_, payload, packet_size) == bytes.fromhex(expected)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_bytes_are_the_ones_documented(name: str) -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for line in GOLDEN[name][1].split(" 4b 45 4e 4e "):
        assert line.strip()[:40] in doc


@pytest.mark.parametrize("name", sorted(HANDSHAKE))
def test_handshake_bytes_are_the_ones_documented(name: str) -> None:
    """The handshake example in docs/protocol.md is what the code sends, byte for byte."""
    doc = " ".join((ROOT / "docs" / "protocol.md").read_text().split())
    type_, payload = HANDSHAKE[name]
    assert frame(type_, payload).hex(" ") in doc


def test_header_layout_constants() -> None:
    assert HEADER_SIZE == 24
    assert MAGIC == b"KENN"
    assert [t.value for t in MessageType] == list(range(10))


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.sampled_from(list(MessageType)), st.binary(max_size=700)), max_size=6
    ),
    packet_size=st.integers(1, 300),
    step=st.integers(1, 400),
)
def test_any_messages_round_trip_through_any_read_sizes(
    messages: list[tuple[MessageType, bytes]], packet_size: int, step: int
) -> None:
    stream = b"".join(frame(t, p, packet_size) for t, p in messages)
    r = reader(stream, step)
    for type_, payload in messages:
        message = r.read_message(1.0)
        assert message.type == type_
        assert bytes(message.payload) == payload
    with pytest.raises(ConnectionClosedError) as info:
        r.read_message(1.0)
    assert not info.value.mid_frame


@pytest.mark.parametrize("suite", [None, AES_GCM, HMAC_SHA256])
@pytest.mark.parametrize("count", [24, 3000])  # one small frame; several frames
def test_any_buffer_is_sent_as_its_bytes(suite: int | None, count: int) -> None:
    """A numpy array or a typed, shaped view goes out as its bytes, tagged or not."""
    array = np.arange(count, dtype=np.float32).reshape(-1, 4)
    key = bytes(range(32))
    for payload in (array, memoryview(array), memoryview(array).cast("B"), array.tobytes()):
        sender = FrameTagger(suite, key) if suite is not None else None
        data = b"".join(encode_frames(MessageType.DATA, payload, 4096, sender))
        r = reader(data, max_size=1 << 16)
        r.tagger = FrameTagger(suite, key) if suite is not None else None
        message = r.read_message(1.0)
        assert message.type == MessageType.DATA
        assert bytes(message.payload) == array.tobytes()


def test_chunks_stream_without_the_whole_payload() -> None:
    payload = bytes(range(256)) * 10
    r = reader(frame(MessageType.MODEL, payload, 100), step=37)
    first = r.read_header(1.0)
    assert first.message_length == len(payload) and first.payload_length == 100
    chunks = [bytes(c) for c in r.iter_payload(first, 1.0)]
    assert [len(c) for c in chunks] == [100] * 25 + [60]
    assert b"".join(chunks) == payload


def test_encode_frames_does_not_copy_large_payloads() -> None:
    payload = bytearray(10_000)
    buffers = encode_frames(MessageType.DATA, payload, 4096)
    assert len(buffers) == 6 and all(isinstance(b, memoryview) for b in buffers[1::2])


@pytest.mark.parametrize(
    ("data", "kind", "in_sync"),
    [
        (header(magic=b"HTTP"), "magic", False),
        (header(version=1), "version", False),
        (header()[:20] + b"\0\0\0\0", "header-checksum", False),
        (header(flags=4), "flags", False),
        (header(total=5000, length=5000), "oversized", False),
        (header(total=3, length=4), "sequence", False),
        (header(flags=1, total=3, length=0, payload=b""), "sequence", False),
        (header(total=3, length=2, payload=b"\x01\x02") + b"\x01\x02", "sequence", False),
        (header(payload=b"xyz") + b"\x01\x02\x03", "checksum", True),
        (header(type_=99) + b"\x01\x02\x03", "type", True),
        (header() + b"\x01", "truncated", False),
        (header()[:10], "truncated", False),
    ],
)
def test_every_bad_frame_is_named(data: bytes, kind: str, in_sync: bool) -> None:
    r = reader(data, end="timeout", max_size=4096)
    with pytest.raises(FrameError) as info:
        r.read_message(0.01)
    assert info.value.kind == kind
    assert info.value.in_sync == in_sync


def test_bad_payload_checksum_in_a_chunk_consumes_the_whole_message() -> None:
    good = frame(MessageType.MODEL, b"abcdefgh", 3)
    corrupted = bytearray(good)
    corrupted[HEADER_SIZE] ^= 0xFF  # first payload byte of the first chunk
    r = reader(bytes(corrupted) + frame(MessageType.OK))
    with pytest.raises(FrameError) as info:
        r.read_message(1.0)
    assert info.value.kind == "checksum" and info.value.in_sync
    assert r.read_message(1.0).type == MessageType.OK  # still in sync


def test_a_continuation_of_another_message_is_a_sequence_error() -> None:
    first = frame(MessageType.MODEL, b"abcdef", 4)[: HEADER_SIZE + 4]
    r = reader(first + frame(MessageType.DATA, b"xy"))
    with pytest.raises(FrameError, match="inside a 6-byte MODEL") as info:
        r.read_message(1.0)
    assert info.value.kind == "sequence"


def test_peer_closing_mid_frame_is_not_a_clean_close() -> None:
    r = reader(frame(MessageType.DATA, b"abcdef")[:-2], end="closed")
    with pytest.raises(ConnectionClosedError) as info:
        r.read_message(1.0)
    assert info.value.mid_frame


def test_silence_before_a_frame_is_a_timeout_not_a_bad_frame() -> None:
    r = reader(b"", end="timeout")
    with pytest.raises(ProtocolTimeoutError):
        r.read_message(0.01)


def test_oversized_is_rejected_from_the_header_alone() -> None:
    source = StreamSource(header(total=1 << 30, length=1 << 16), end="timeout")
    r = FrameReader(source, 1 << 20)
    with pytest.raises(FrameError, match="exceeds the maximum payload size"):
        r.read_message(1.0)
    assert source.pos == HEADER_SIZE  # not a byte of payload was read

"""SerialProtocol through pyserial on real pseudo-terminals (joined by PtyLink)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_protocol import SAMPLE, SPEC, full_exchange, model_file

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.errors import RemoteError, TransportError
from kenning.runtimeprotocols.ptylink import PtyLink
from kenning.runtimeprotocols.serial import SerialProtocol
from kenning.runtimeprotocols.server import InferenceServer
from kenning.runtimeprotocols.wire import HEADER_SIZE, MessageType, encode_frames
from kenning.runtimes.null import NullRuntime


@pytest.fixture
def link() -> Iterator[tuple[str, str]]:
    with PtyLink() as ends:
        yield ends


@pytest.fixture
def serial_server(link: tuple[str, str], tmp_path: Path) -> Iterator[InferenceServer]:
    protocol = SerialProtocol(link[0], timeout=1.0)
    server = InferenceServer(
        protocol,
        NullRuntime(tmp_path / "target" / "model.bin"),
        idle_timeout=0.2,
        monitor_interval=0.05,
    )
    # open the port before any client writes: opening a tty drops what is already buffered
    protocol.initialize_server()
    thread = threading.Thread(
        target=server.serve, kwargs={"poll": 0.05, "initialize": False}, daemon=True
    )
    thread.start()
    yield server
    server.stop_event.set()
    thread.join(5)
    assert not thread.is_alive()


def serial_client(port: str, tmp_path: Path, packet_size: int = 4096) -> ProtocolClient:
    client = ProtocolClient(SerialProtocol(port, timeout=5.0, packet_size=packet_size))
    client.connect()
    client.upload_io_spec(SPEC)
    client.upload_model(model_file(tmp_path, 20_000))
    return client


def test_ptylink_carries_bytes_both_ways_raw(link: tuple[str, str]) -> None:
    import serial

    a, b = (serial.Serial(p, 115200, timeout=2) for p in link)
    payload = bytes(range(256)) * 40  # every byte value: no echo, no line editing
    a.write(payload)
    assert b.read(len(payload)) == payload
    b.write(b"\x03\x04\r\n\x11\x13")
    assert a.read(6) == b"\x03\x04\r\n\x11\x13"
    a.close()
    b.close()


def test_ptylink_paces_like_a_uart() -> None:
    import serial

    with PtyLink(baudrate=115200) as (a_path, b_path):
        a, b = (serial.Serial(p, 115200, timeout=3) for p in (a_path, b_path))
        start = time.monotonic()
        a.write(bytes(2304))  # 0.2 s at 11,520 bytes/s
        assert len(b.read(2304)) == 2304
        elapsed = time.monotonic() - start
        a.close()
        b.close()
    assert 0.18 < elapsed < 2.0


def test_full_session_over_a_serial_line(
    serial_server: InferenceServer, link: tuple[str, str], tmp_path: Path
) -> None:
    client = serial_client(link[1], tmp_path, packet_size=1000)
    assert client.target_info["model_bytes"] == 20_000
    for _ in range(5):
        _, target, output = full_exchange(client)
        assert output == bytes(40) and 0 < target < 0.01
    assert (tmp_path / "target" / "model.bin").stat().st_size == 20_000
    client.close()


def test_serial_server_resyncs_after_garbage_and_serves_on(
    serial_server: InferenceServer, link: tuple[str, str], tmp_path: Path
) -> None:
    client = serial_client(link[1], tmp_path)
    protocol = client.protocol
    protocol.send_data(b"garbage that is not a frame at all, " * 3)
    with pytest.raises(RemoteError, match="bad magic"):
        client._reply("garbage")
    # the target drains the line until it has been quiet for 50 ms; leave a wide margin on a
    # loaded machine, where the paced link and the server can be descheduled for a while
    time.sleep(1.0)
    # ... and that was longer than --idle-timeout (0.2 s): the session ended, so the host
    # proves the secret again; the model stays loaded on a line
    client.close()
    client.connect()
    assert full_exchange(client)[2] == bytes(40)
    # line noise in a frame of the session: its tag (which replaces the payload CRC) fails,
    # and the session ends; the host proves the secret again and is served
    corrupted = bytearray(
        b"".join(encode_frames(MessageType.DATA, SAMPLE, tagger=protocol.tagger))
    )
    corrupted[HEADER_SIZE + 5] ^= 0x55
    protocol.send_data(bytes(corrupted))
    with pytest.raises(RemoteError, match="frame 4 of the session failed its aes-gcm check"):
        client._reply("DATA")
    client.close()
    client.connect()
    assert full_exchange(client)[2] == bytes(40)
    # an untagged frame's payload CRC still refuses line noise alone: the session goes on
    protocol.stop_tagging()
    protocol.send_data(b"".join(encode_frames(MessageType.HELLO, bytes(32))))
    client._reply("HELLO", MessageType.HELLO)  # a new handshake: its frames are untagged
    corrupted = bytearray(b"".join(encode_frames(MessageType.HELLO, bytes(32))))
    corrupted[HEADER_SIZE + 5] ^= 0x55
    protocol.send_data(bytes(corrupted))
    with pytest.raises(RemoteError, match="payload checksum mismatch"):
        client._reply("HELLO")
    client.close()


def test_serial_port_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot open serial port"):
        SerialProtocol(str(tmp_path / "ttyNOPE")).initialize_client()


def test_serial_timeout_when_nobody_answers(link: tuple[str, str]) -> None:
    from kenning.runtimeprotocols.errors import ProtocolTimeoutError

    client = ProtocolClient(SerialProtocol(link[1], timeout=0.2))
    start = time.monotonic()
    with pytest.raises(ProtocolTimeoutError, match="reply to HELLO"):
        client.connect()
    assert time.monotonic() - start < 2
    client.close()


def test_ptylink_ends_are_ttys(link: tuple[str, str]) -> None:
    for path in link:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            assert os.isatty(fd)
        finally:
            os.close(fd)


def test_serial_hosts_prove_the_secret_too(link: tuple[str, str], tmp_path: Path) -> None:
    """The same handshake on a line: a host without the secret is refused, then one with it."""
    secret = b"70" * 32
    protocol = SerialProtocol(link[0], timeout=1.0)
    protocol.use_secret(secret)
    server = InferenceServer(protocol, NullRuntime(tmp_path / "target" / "model.bin"),
                             idle_timeout=0.5, monitor_interval=0.05)  # fmt: skip
    protocol.initialize_server()
    thread = threading.Thread(target=server.serve, kwargs={"poll": 0.05, "initialize": False})
    thread.start()
    try:
        stranger = ProtocolClient(SerialProtocol(link[1], timeout=5.0))
        with pytest.raises(RemoteError, match="authentication failed"):
            stranger.connect()
        stranger.close()
        time.sleep(0.3)  # the target drains the line after a refusal
        sneaky = ProtocolClient(SerialProtocol(link[1], timeout=5.0))
        sneaky.protocol.initialize_client()
        sneaky.protocol.send_message(MessageType.IOSPEC, SPEC.model_dump_json().encode())
        with pytest.raises(RemoteError, match="IOSPEC before the handshake"):
            sneaky._reply("IOSPEC")
        sneaky.close()
        time.sleep(0.3)
        host = ProtocolClient(SerialProtocol(link[1], timeout=5.0))
        host.protocol.use_secret(secret)
        host.connect()
        host.upload_io_spec(SPEC)
        host.upload_model(model_file(tmp_path, 2_000))
        assert full_exchange(host)[2] == bytes(40)
        host.close()
    finally:
        server.stop_event.set()
        thread.join(5)
    assert not thread.is_alive()

"""Frames after the handshake carry tags: an on-path peer cannot change, inject or replay any.

The attacker here is real: a TCP relay between a real host and a real server that rewrites
frames the way anyone on the path of a CRC-only protocol could (payload changed, both CRCs
fixed), replays frames it saw, injects its own, or lowers the suite in the target's HELLO.
Each is refused, and the server goes on serving the next host. On a serial line, a frame
injected on the line ends the session and the host proves the secret again.
"""

from __future__ import annotations

import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest_protocol import (
    ROOT,
    SAMPLE,
    SPEC,
    full_exchange,
    model_file,
    ready_client,
    thread_server,
)
from test_protocol_serial import link, serial_client, serial_server  # noqa: F401

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.errors import ForgedFrameError, RemoteError
from kenning.runtimeprotocols.frameauth import (
    AES_GCM,
    HMAC_SHA256,
    TAG_SIZE,
    FrameTagger,
    session_keys,
)
from kenning.runtimeprotocols.network import NetworkProtocol
from kenning.runtimeprotocols.server import InferenceServer
from kenning.runtimeprotocols.wire import (
    HEADER_SIZE,
    Flags,
    MessageType,
    encode_frames,
    encode_header,
)
from kenning.runtimes.null import NullRuntime
from kenning.utils.errors import ConfigurationError

SECRET = b"7c" * 32
#: what one frame becomes on its way: the frames to send instead (none: dropped)
Rewrite = Callable[[bytes, int], list[bytes]]


def _frame_type(data: bytes) -> int:
    return data[5]


def _refit(data: bytes, payload: bytes) -> bytes:
    """The frame with another payload of the same length and both CRCs made right again."""
    head = bytearray(data[:HEADER_SIZE])
    struct.pack_into("<I", head, 16, zlib.crc32(payload))
    struct.pack_into("<I", head, 20, zlib.crc32(bytes(head[:20])))
    return bytes(head) + payload + data[HEADER_SIZE + len(payload) :]


def _read_frame(sock: socket.socket) -> bytes:
    def exact(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    head = exact(HEADER_SIZE)
    length = int.from_bytes(head[12:16], "little")
    return head + exact(length + (TAG_SIZE if head[6] & Flags.TAGGED else 0))


@contextmanager
def relay(port: int, to_target: Rewrite, to_host: Rewrite | None = None) -> Iterator[int]:
    """A man in the middle on 127.0.0.1: frame by frame, each direction through a rewrite."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def pump(src: socket.socket, dst: socket.socket, rewrite: Rewrite) -> None:
        index = 0
        try:
            while True:
                for out in rewrite(_read_frame(src), index):
                    dst.sendall(out)
                index += 1
        except (EOFError, OSError):
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        try:
            host = listener.accept()[0]
        except OSError:
            return
        target = socket.create_connection(("127.0.0.1", port))
        back = threading.Thread(
            target=pump, args=(target, host, to_host or (lambda f, i: [f])), daemon=True
        )
        back.start()
        pump(host, target, to_target)
        back.join(5)
        host.close()
        target.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(10)


def _client(port: int, timeout: float = 3.0) -> ProtocolClient:
    client = ProtocolClient(NetworkProtocol(port=port, timeout=timeout))
    client.protocol.use_secret(SECRET)
    return client


def _session(port: int, tmp_path: Path) -> ProtocolClient:
    client = _client(port)
    client.connect()
    client.upload_io_spec(SPEC)
    client.upload_model(model_file(tmp_path))
    return client


def _server_still_serves(port: int, tmp_path: Path) -> None:
    client = ready_client(port, tmp_path, secret=SECRET)
    assert full_exchange(client)[2] == bytes(40)
    client.close()


@pytest.mark.parametrize("suite", ["aes-gcm", "hmac-sha256"])
def test_a_changed_payload_with_its_crcs_fixed_is_refused(tmp_path: Path, suite: str) -> None:
    def flip_data(data: bytes, index: int) -> list[bytes]:
        if _frame_type(data) == MessageType.DATA:
            length = int.from_bytes(data[12:16], "little")
            payload = bytearray(data[HEADER_SIZE : HEADER_SIZE + length])
            payload[0] ^= 0xFF
            return [_refit(data, bytes(payload))]
        return [data]

    with thread_server(tmp_path, secret=SECRET, frame_auth=suite) as srv:
        with relay(srv.port, flip_data) as port:
            client = _session(port, tmp_path)
            assert client.protocol.frame_auth == suite
            with pytest.raises(RemoteError, match=f"frame 2 of the session failed its {suite}"):
                client.upload_input(SAMPLE)
            client.close()
        assert not srv.server.requests.input_ready
        _server_still_serves(srv.port, tmp_path)


def test_a_replayed_frame_is_refused(tmp_path: Path) -> None:
    seen: list[bytes] = []

    def replay_stats(data: bytes, index: int) -> list[bytes]:
        if _frame_type(data) == MessageType.STATS:
            seen.append(data)
            return [data, data] if len(seen) == 2 else [data]  # the second STATS, twice
        return [data]

    with thread_server(tmp_path, secret=SECRET) as srv:
        with relay(srv.port, replay_stats) as port:
            client = _session(port, tmp_path)
            client.download_statistics()
            client.download_statistics()  # answered; its copy is not
            with pytest.raises(RemoteError, match=r"frame 4 .* replayed or reordered"):
                client._reply("STATS")
            client.close()
        _server_still_serves(srv.port, tmp_path)


def test_an_injected_frame_is_refused_tagged_or_not(tmp_path: Path) -> None:
    for forged in (
        b"".join(encode_frames(MessageType.OUTPUT)),  # untagged
        encode_header(MessageType.OUTPUT, Flags.TAGGED, 0, 0, 0) + bytes(TAG_SIZE),  # guessed
    ):

        def inject(data: bytes, index: int, forged: bytes = forged) -> list[bytes]:
            return [forged, data] if _frame_type(data) == MessageType.DATA else [data]

        with thread_server(tmp_path, secret=SECRET) as srv:
            with relay(srv.port, inject) as port:
                client = _session(port, tmp_path)
                with pytest.raises(RemoteError, match="changed, injected"):
                    client.upload_input(SAMPLE)
                client.close()
            _server_still_serves(srv.port, tmp_path)


def test_a_changed_reply_is_refused_by_the_host(tmp_path: Path) -> None:
    def flip_output(data: bytes, index: int) -> list[bytes]:
        length = int.from_bytes(data[12:16], "little")
        if _frame_type(data) == MessageType.OK and length == 40:  # the OUTPUT reply
            return [_refit(data, b"\x01" * 40)]
        return [data]

    with thread_server(tmp_path, secret=SECRET) as srv:
        with relay(srv.port, lambda f, i: [f], flip_output) as port:
            client = _session(port, tmp_path)
            client.upload_input(SAMPLE)
            client.request_processing()
            with pytest.raises(ForgedFrameError, match="failed its aes-gcm check"):
                client.download_output()
            client.close()


def test_the_suite_cannot_be_lowered_on_the_way(tmp_path: Path) -> None:
    def downgrade(data: bytes, index: int) -> list[bytes]:
        if _frame_type(data) == MessageType.HELLO:
            return [_refit(data, data[HEADER_SIZE : HEADER_SIZE + 32] + b"\x00")]
        return [data]

    with thread_server(tmp_path, secret=SECRET) as srv:
        with relay(srv.port, lambda f, i: [f], downgrade) as port:
            with pytest.raises(RemoteError, match="authentication failed"):
                _client(port).connect()
        assert not srv.server.requests.model_loaded


def test_without_tags_only_on_loopback(tmp_path: Path) -> None:
    runtime = NullRuntime(tmp_path / "model.bin")
    outside = NetworkProtocol(host="0.0.0.0", port=0)
    outside.use_secret(SECRET)
    with pytest.raises(ConfigurationError, match="only on loopback"):
        InferenceServer(outside, runtime, frame_auth="none")
    with thread_server(tmp_path, secret=SECRET, frame_auth="none") as srv:
        client = ready_client(srv.port, tmp_path, secret=SECRET)
        assert client.protocol.frame_auth == "none"
        assert full_exchange(client)[2] == bytes(40)
        client.close()


def test_an_injected_frame_on_a_serial_line_ends_the_session(
    serial_server: InferenceServer,  # noqa: F811
    link: tuple[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    client = serial_client(link[1], tmp_path)
    assert client.protocol.frame_auth == "aes-gcm"
    assert full_exchange(client)[2] == bytes(40)
    client.protocol.send_data(b"".join(encode_frames(MessageType.STATS)))  # on the line
    with pytest.raises(RemoteError, match="a frame without a tag"):
        client._reply("STATS")
    with pytest.raises(ForgedFrameError, match="a frame without a tag"):
        client.download_statistics()  # the session has ended: the target's refusal is bare
    client.close()
    client.connect()  # a new session: the secret is proved again
    assert full_exchange(client)[2] == bytes(40)
    client.close()


@pytest.mark.parametrize("suite", [AES_GCM, HMAC_SHA256])
def test_tags_from_pieces_are_the_tags_of_the_whole(suite: int) -> None:
    keys = session_keys(SECRET, bytes(32), bytes(range(32)), suite)
    header, payload = bytes(range(24)), bytes(range(256)) * 300
    whole, pieces = FrameTagger(suite, keys["host"]), FrameTagger(suite, keys["host"])
    for _ in range(3):  # the count goes on: every frame's tag differs
        tag = whole.tag(header, payload)
        built = pieces.pieces(header)
        for start in range(0, len(payload), 7000):
            built.update(payload[start : start + 7000])
        assert built.digest() == tag
    receiver = FrameTagger(suite, keys["host"])
    receiver.check(header, payload, FrameTagger(suite, keys["host"]).tag(header, payload))
    with pytest.raises(ForgedFrameError):  # the same frame again: its number has passed
        receiver.check(header, payload, FrameTagger(suite, keys["host"]).tag(header, payload))
    other = FrameTagger(suite, keys["target"])  # the other direction's key
    with pytest.raises(ForgedFrameError):
        FrameTagger(suite, keys["host"]).check(header, payload, other.tag(header, payload))


def test_the_tag_vectors_are_the_ones_documented() -> None:
    """docs/protocol.md's example session frame, byte for byte, for both suites."""
    doc = " ".join((ROOT / "docs" / "protocol.md").read_text().split())
    secret = b"0123456789abcdef0123456789abcdef"
    for suite in (AES_GCM, HMAC_SHA256):
        keys = session_keys(secret, bytes(range(32)), bytes(range(32, 64)), suite)
        tagger = FrameTagger(suite, keys["host"])
        frame = b"".join(encode_frames(MessageType.DATA, b"\x01\x02\x03", tagger=tagger))
        assert frame.hex(" ") in doc, suite

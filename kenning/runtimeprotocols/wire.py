"""The wire format of the host-target protocol: frames, and nothing else.

A message is one or more frames. Every frame is a 24-byte little-endian header
followed by its payload (the layout is drawn in ``docs/protocol.md``)::

    offset size field
         0    4 magic            b"KENN"
         4    1 version          3
         5    1 type             MessageType
         6    2 flags            bit 0 MORE: another frame of this message follows,
                                 bit 1 TAGGED: a 16-byte tag follows the payload
         8    4 message length   payload bytes of the whole message
        12    4 payload length   payload bytes in this frame (<= --packet-size)
        16    4 payload CRC32    zlib.crc32 of this frame's payload
        20    4 header CRC32     zlib.crc32 of bytes 0..19

The receiver checks both checksums. Messages longer than ``packet_size`` are
split into frames of at most ``packet_size`` payload bytes, so a model is
streamed and checked chunk by chunk. After the handshake every frame is tagged
(:mod:`kenning.runtimeprotocols.frameauth`): its tag follows its payload and is not
counted in either length. Sessions (who sends what, when) sit above
this module, in :mod:`kenning.runtimeprotocols.client` and
:mod:`kenning.runtimeprotocols.server`; reading frames off a byte stream is
:class:`kenning.runtimeprotocols.reader.FrameReader`.
"""

from __future__ import annotations

import struct
import zlib
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, NamedTuple

from kenning.runtimeprotocols.errors import FrameError

if TYPE_CHECKING:
    from kenning.runtimeprotocols.frameauth import FrameTagger

MAGIC = b"KENN"
VERSION = 3
_PREFIX = struct.Struct("<4sBBHIII")
_CRC = struct.Struct("<I")
HEADER = struct.Struct("<4sBBHIIII")
HEADER_SIZE = HEADER.size
MAX_MESSAGE_LENGTH = 0xFFFFFFFF
#: payloads up to this size are copied behind their header and sent as one buffer
_SMALL = 4096


class MessageType(IntEnum):
    """What a message asks for or answers."""

    OK = 0
    ERROR = 1
    DATA = 2
    MODEL = 3
    PROCESS = 4
    OUTPUT = 5
    STATS = 6
    IOSPEC = 7
    HELLO = 8
    AUTH = 9


class Flags(IntFlag):
    """Frame flags; bits not named here must be zero."""

    NONE = 0
    MORE = 1
    TAGGED = 2


_MORE = int(Flags.MORE)
TAGGED = int(Flags.TAGGED)
_KNOWN_FLAGS = _MORE | TAGGED
_TYPES = {int(t): t for t in MessageType}


def message_type(value: int) -> MessageType | None:
    """The message type numbered ``value``, or ``None`` when there is none."""
    return _TYPES.get(value)


def type_name(value: int) -> str:
    """Name of a message type, or its number when unknown."""
    return _TYPES[value].name if value in _TYPES else f"0x{value:02x}"


class FrameHeader(NamedTuple):
    """A decoded, validated frame header."""

    type: int
    flags: int
    message_length: int
    payload_length: int
    payload_crc: int

    @property
    def more(self) -> bool:
        """Another frame of this message follows."""
        return bool(self.flags & _MORE)

    @property
    def tagged(self) -> bool:
        """A tag follows the payload (frames after the handshake)."""
        return bool(self.flags & TAGGED)


class Message(NamedTuple):
    """A whole received message."""

    type: MessageType
    payload: bytes | bytearray | memoryview


def encode_header(
    type: int, flags: int, message_length: int, payload_length: int, payload_crc: int
) -> bytes:
    """The 24 header bytes of one frame."""
    prefix = _PREFIX.pack(MAGIC, VERSION, type, flags, message_length, payload_length, payload_crc)
    return prefix + _CRC.pack(zlib.crc32(prefix))


def encode_frame(
    type: int,
    more: bool,
    total: int,
    chunk: bytes | memoryview,
    tagger: FrameTagger | None = None,
) -> list[bytes | memoryview]:
    """The buffers of one frame: header, payload (not copied) and, when tagged, its tag.

    A tagged frame's payload CRC is 0: its tag checks the payload, and faster.
    """
    size = chunk.nbytes if isinstance(chunk, memoryview) else len(chunk)
    if tagger is None:
        header = encode_header(type, _MORE if more else 0, total, size, zlib.crc32(chunk))
        return [header, chunk] if size else [header]
    header = encode_header(type, (_MORE if more else 0) | TAGGED, total, size, 0)
    tag = tagger.tag(header, chunk)
    return [header, chunk, tag] if size else [header, tag]


def encode_frames(
    type: int,
    payload: bytes | bytearray | memoryview = b"",
    packet_size: int = 1 << 16,
    tagger: FrameTagger | None = None,
) -> list[bytes | memoryview]:
    """Headers, payload chunks (and tags) of one message, ready for one scatter-gather write.

    Parameters
    ----------
    type : MessageType
        The message type.
    payload : bytes-like
        The whole payload; not copied (chunks are views).
    packet_size : int
        Maximum payload bytes per frame.
    tagger : FrameTagger, optional
        This direction's tagger once the handshake is done: every frame gets its tag.

    Returns
    -------
    list
        ``[header, chunk, (tag,) header, chunk, (tag,) ...]``; a small message is one buffer.

    Raises
    ------
    ValueError
        If the payload is longer than the format allows or ``packet_size < 1``.
    """
    total = len(payload) if isinstance(payload, bytes) else memoryview(payload).nbytes
    if total <= _SMALL and total <= packet_size:
        whole = payload if isinstance(payload, bytes) else memoryview(payload).cast("B")
        return [b"".join(encode_frame(type, False, total, whole, tagger))]
    if total > MAX_MESSAGE_LENGTH:
        raise ValueError(f"payload of {total} bytes exceeds the format's 4 GiB limit")
    if packet_size < 1:
        raise ValueError(f"packet size must be >= 1, got {packet_size}")
    view = memoryview(payload).cast("B")
    out: list[bytes | memoryview] = []
    for start in range(0, total, packet_size):
        chunk = view[start : start + packet_size]
        out += encode_frame(type, start + packet_size < total, total, chunk, tagger)
    return out


def decode_header(data: bytes | bytearray | memoryview, max_payload_size: int) -> FrameHeader:
    """Check and decode the 24 header bytes of a frame.

    The message type is not checked here: an unknown type with a sound header
    leaves the stream in sync, so the reader consumes the payload first.

    Raises
    ------
    FrameError
        On bad magic, version, header checksum, flags or lengths, or a message
        longer than ``max_payload_size``; the stream is then out of sync.
    """
    magic, version, type_, flags, total, length, crc, header_crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FrameError("magic", f"bad magic {bytes(magic)!r} (expected {MAGIC!r})")
    if version != VERSION:
        raise FrameError(
            "version", f"protocol version {version} is not supported (this side speaks {VERSION})"
        )
    if zlib.crc32(memoryview(data)[: _PREFIX.size]) != header_crc:
        raise FrameError("header-checksum", "header checksum mismatch (corrupted header)")
    if flags & ~_KNOWN_FLAGS:
        raise FrameError("flags", f"unknown flag bits 0x{flags & ~_KNOWN_FLAGS:04x}")
    if total > max_payload_size:
        raise FrameError(
            "oversized",
            f"{type_name(type_)} message of {total} bytes exceeds the maximum payload size "
            f"of {max_payload_size} bytes (--max-payload-size)",
        )
    if length > total or (flags & _MORE and length == 0):
        raise FrameError("sequence", f"frame of {length} bytes in a {total}-byte message")
    return FrameHeader(type_, flags, total, length, crc)

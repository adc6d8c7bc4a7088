"""Transports that carry kenning's frames: the framer on top of a byte-moving transport.

:class:`FramedProtocol` gives a :class:`~kenning.core.runtimeprotocol.RuntimeProtocol` its
messages: :mod:`kenning.runtimeprotocols.wire` encodes them into frames and
:class:`~kenning.runtimeprotocols.reader.FrameReader` reads and checks them from the
transport's ``read_some``. Implementations (network, serial) only move bytes.
"""

from __future__ import annotations

from typing import ClassVar

from kenning.core.args import Arg
from kenning.core.runtimeprotocol import Buffer, RuntimeProtocol
from kenning.runtimeprotocols.frameauth import AES_GCM, NONE, FrameTagger, suite_name
from kenning.runtimeprotocols.handshake import read_secret
from kenning.runtimeprotocols.reader import FrameReader
from kenning.runtimeprotocols.wire import MAX_MESSAGE_LENGTH, VERSION, Message, encode_frames
from kenning.utils.errors import ConfigurationError


class FramedProtocol(RuntimeProtocol):
    """A transport speaking kenning's wire format (see ``docs/protocol.md``).

    Parameters
    ----------
    packet_size, timeout, max_payload_size
        See :class:`~kenning.core.runtimeprotocol.RuntimeProtocol`; ``packet_size`` is at
        most the wire format's largest frame.
    secret_file : str, optional
        File holding the run's secret (mode 0600), ``-`` for one line of stdin; both sides
        prove they hold it before anything else (:mod:`kenning.runtimeprotocols.handshake`).
    min_rate : float, optional
        Bytes per second a message must at least arrive at (its deadline).
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg(
            "--secret-file",
            str,
            None,
            "file holding the run's secret (mode 0600; '-': one line of stdin); both sides "
            "prove they hold it before anything else",
        ),
    )
    wire_version: ClassVar[int] = VERSION

    def __init__(
        self,
        packet_size: int = 1 << 16,
        timeout: float = 30.0,
        max_payload_size: int = 1 << 28,
        secret_file: str | None = None,
        min_rate: float | None = 64 * 1024,
    ) -> None:
        if not 1 <= packet_size <= MAX_MESSAGE_LENGTH:
            raise ConfigurationError(f"--packet-size must be 1..{MAX_MESSAGE_LENGTH} bytes")
        super().__init__(packet_size, timeout, max_payload_size)
        self.secret_file = secret_file
        self._secret: bytes | None = None
        #: (server) seconds a host has from connecting to finish the handshake
        self.handshake_timeout = 10.0
        #: (server) whether the host accepted last proved the secret already
        self.authenticated = False
        #: (server) the suite this server's frames are tagged with after the handshake
        self.frame_suite = AES_GCM
        #: (server) the keys of the session the lobby handed over with its host
        self.handed_keys: dict[str, bytes] = {}
        self.reader = FrameReader(self.read_some, max_payload_size, min_rate=min_rate)
        #: tags the frames this side sends once the handshake is done
        self.tagger: FrameTagger | None = None

    @property
    def secret(self) -> bytes:
        """The run's secret (read from ``--secret-file`` once; empty without one).

        Raises
        ------
        ConfigurationError
            If the file cannot be used (see :func:`~kenning.runtimeprotocols.handshake.
            read_secret`).
        """
        if self._secret is None:
            self._secret = read_secret(self.secret_file)
        return self._secret

    def use_secret(self, secret: bytes) -> None:
        """Use ``secret`` instead of reading ``--secret-file`` (for embedding and tests)."""
        self._secret = bytes(secret)

    def private_line(self) -> bool:
        """Whether nobody can be on the path to the peer (TCP on loopback); not a serial line."""
        return False

    def start_tagging(self, suite: int, keys: dict[str, bytes], side: str) -> None:
        """Tag every frame from now on with this session's keys (``side``: host or target)."""
        if suite == NONE:
            self.stop_tagging()
            return
        other = "target" if side == "host" else "host"
        self.tagger = FrameTagger(suite, keys[side])
        self.reader.tagger = FrameTagger(suite, keys[other])

    def stop_tagging(self) -> None:
        """The session ended (or a new handshake starts): frames are not tagged."""
        self.tagger = self.reader.tagger = None

    def reset_session(self) -> None:
        """A new connection, or a new host on a line: no partial input, no session keys."""
        self.reader.reset()
        self.stop_tagging()

    @property
    def frame_auth(self) -> str:
        """The suite this session's frames are tagged with (``none`` before the handshake)."""
        return self.tagger.name if self.tagger is not None else suite_name(NONE)

    def send_message(self, type: int, payload: Buffer = b"") -> None:
        """Send one message, split into frames of at most ``packet_size`` payload bytes."""
        self.write(encode_frames(type, payload, self.packet_size, self.tagger))

    def receive_message(
        self, timeout: float | None = None, first_timeout: float | None = None
    ) -> Message:
        """Receive one whole, checked message (``timeout`` defaults to ``--timeout``)."""
        timeout = self.timeout if timeout is None else timeout
        return self.reader.read_message(timeout, first_timeout)

    def send_data(self, data: Buffer) -> None:
        """Write raw ``data`` to the peer in full."""
        self.write([data])

    def receive_data(self, size: int, timeout: float | None) -> bytes:
        """Read exactly ``size`` raw bytes, or raise a timeout or disconnection error."""
        out = bytearray(size)
        self.reader.read_exact(memoryview(out), timeout)
        return bytes(out)

    def get_framework_and_version(self) -> tuple[str, str]:
        """The transport's name and the wire-format version it speaks."""
        return type(self).__name__, f"wire-{self.wire_version}"

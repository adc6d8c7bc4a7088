"""Per-frame authentication after the handshake: every frame carries a tag and a place.

The handshake proves who is at the other end; these tags prove, frame by frame, that what
arrives afterwards was sent by that peer, in that order, once. Both sides derive one key per
direction from the run's secret and the two nonces of the handshake (so every session has
fresh keys) and count the frames they send and receive. A frame's 16-byte tag follows its
payload (header flag ``TAGGED``) and covers the frame's number in its direction, its whole
header and its payload: a changed byte, an injected, replayed, dropped or reordered frame
fails the receiver's check, and the session ends. The tag takes the place of the payload's
CRC32 (0 in a tagged header): it detects corruption too, and AES-GCM's is faster. Layouts
and test vectors are in ``docs/protocol.md`` ("Frame authentication").

Suites (the target names one in its ``HELLO``; both proofs of the handshake cover it, so a
peer on the path cannot lower it):

``aes-gcm`` (2)
    AES-256-GCM from the ``cryptography`` package (OpenSSL: AES-NI and carry-less
    multiplication where the CPU has them). Nonce: the frame number, 12 bytes big-endian;
    the header is the message and the payload the associated data; the ciphertext is
    dropped and the tag kept (a receiver recomputes it exactly as a GCM decryption does).
``hmac-sha256`` (1)
    HMAC-SHA256 from the standard library over number (8 bytes big-endian), header and
    payload, cut to 16 bytes: for peers without ``cryptography`` (and small C servers).
``none`` (0)
    No tags: only for a server that listens on loopback, where nobody is on the path.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Any

from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.errors import ForgedFrameError
from kenning.utils.errors import ConfigurationError, MissingDependencyError
from kenning.utils.imports import require

TAG_SIZE = 16
NONE, HMAC_SHA256, AES_GCM = 0, 1, 2
SUITES = {NONE: "none", HMAC_SHA256: "hmac-sha256", AES_GCM: "aes-gcm"}
#: what ``--frame-auth`` accepts: a suite's name, or ``auto`` (the fastest one available)
CHOICES = ("auto", "aes-gcm", "hmac-sha256", "none")
_KEYS = {"host": b"kenning frames host v3", "target": b"kenning frames target v3"}


def suite_number(name: str) -> int:
    """The suite ``--frame-auth NAME`` means (``auto``: AES-GCM where it can be loaded).

    Raises
    ------
    MissingDependencyError
        If ``aes-gcm`` is asked for by name and ``cryptography`` is not installed.
    """
    if name == "auto":
        try:
            _aesgcm()
        except MissingDependencyError:
            return HMAC_SHA256
        return AES_GCM
    number = {v: k for k, v in SUITES.items()}[name]
    if number == AES_GCM:
        _aesgcm()
    return number


def choose_suite(frame_auth: str, private: bool, where: str) -> int:
    """The suite a server on ``where`` uses for ``--frame-auth frame_auth``.

    Raises
    ------
    ConfigurationError
        If the choice is unknown, or ``none`` on a line that is not ``private`` (loopback).
    MissingDependencyError
        As :func:`suite_number`.
    """
    if frame_auth not in CHOICES:
        raise ConfigurationError(f"--frame-auth {frame_auth}: choose {', '.join(CHOICES)}")
    if frame_auth == "none" and not private:
        raise ConfigurationError(
            f"--frame-auth none on {where}: whoever is on the path could inject frames; "
            "frames may go unauthenticated only on loopback (127.0.0.1)"
        )
    return suite_number(frame_auth)


def suite_name(number: int) -> str:
    """A suite's name, or its number when unknown."""
    return SUITES.get(number, f"suite {number}")


def _aesgcm() -> Any:
    """AES-GCM of the ``cryptography`` package (OpenSSL's)."""
    return require("cryptography.hazmat.primitives.ciphers.aead", "cryptography").AESGCM


def session_keys(
    secret: bytes, client_nonce: bytes, server_nonce: bytes, suite: int
) -> dict[str, bytes]:
    """The key of each direction, ``host`` (host to target) and ``target``."""
    tail = client_nonce + server_nonce + bytes([suite])
    return {side: hmac.new(secret, label + tail, sha256).digest() for side, label in _KEYS.items()}


class FrameTagger:
    """Tags the frames of one direction of one session, counting them.

    Parameters
    ----------
    suite : int
        :data:`HMAC_SHA256` or :data:`AES_GCM`.
    key : bytes
        This direction's 32-byte key (:func:`session_keys`).
    """

    def __init__(self, suite: int, key: bytes) -> None:
        if suite not in (HMAC_SHA256, AES_GCM):
            raise ValueError(f"frames cannot be tagged with {suite_name(suite)}")
        self.suite = suite
        self.key = key
        #: the number of the next frame
        self.number = 0
        self._gcm = _aesgcm()(key) if suite == AES_GCM else None

    @property
    def name(self) -> str:
        return suite_name(self.suite)

    def _next(self) -> int:
        number = self.number
        self.number += 1
        return number

    def tag(self, header: Buffer, payload: Buffer) -> bytes:
        """The next frame's tag (header and payload given whole)."""
        number = self._next()
        if self._gcm is not None:
            sealed = self._gcm.encrypt(number.to_bytes(12, "big"), header, payload or None)
            return sealed[-TAG_SIZE:]  # the header's ciphertext is not sent
        mac = hmac.new(self.key, number.to_bytes(8, "big"), sha256)
        mac.update(header)
        mac.update(payload)
        return mac.digest()[:TAG_SIZE]

    def pieces(self, header: Buffer) -> PieceTag:
        """The next frame's tag, from its payload given piece by piece."""
        return PieceTag(self, self._next(), bytes(header))

    def check(self, header: Buffer, payload: Buffer, tag: Buffer) -> None:
        """Check the next frame's tag.

        Raises
        ------
        ForgedFrameError
            If it is not the tag of this header and payload as this direction's next frame.
        """
        number = self.number
        if not hmac.compare_digest(self.tag(header, payload), bytes(tag)):
            raise ForgedFrameError(number, self.name)


class PieceTag:
    """A frame's tag computed as its payload arrives (see :meth:`FrameTagger.pieces`)."""

    def __init__(self, tagger: FrameTagger, number: int, header: bytes) -> None:
        self.tagger, self.number, self.header = tagger, number, header
        self._gcm: Any = None
        self._mac: Any = None
        if tagger.suite == AES_GCM:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            nonce = number.to_bytes(12, "big")
            self._gcm = Cipher(algorithms.AES(tagger.key), modes.GCM(nonce)).encryptor()
        else:
            self._mac = hmac.new(tagger.key, number.to_bytes(8, "big"), sha256)
            self._mac.update(header)

    def update(self, piece: Buffer) -> None:
        """Add the next piece of the payload."""
        if self._gcm is not None:
            self._gcm.authenticate_additional_data(piece)
        else:
            self._mac.update(piece)

    def digest(self) -> bytes:
        """The tag."""
        if self._gcm is not None:
            self._gcm.update(self.header)
            self._gcm.finalize()
            return bytes(self._gcm.tag)
        return bytes(self._mac.digest()[:TAG_SIZE])

    def check(self, tag: Buffer) -> None:
        """Compare with the tag that came.

        Raises
        ------
        ForgedFrameError
            If they differ.
        """
        if not hmac.compare_digest(self.digest(), bytes(tag)):
            raise ForgedFrameError(self.number, self.tagger.name)

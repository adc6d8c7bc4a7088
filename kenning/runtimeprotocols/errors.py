"""Errors of the host-target protocol.

Every one derives from :class:`kenning.utils.errors.ProtocolError`::

    ProtocolError
    ├── FrameError                 a frame that breaks the wire format (kind says how)
    ├── ProtocolTimeoutError       the peer sent nothing for --timeout seconds
    │   └── DeadlineError          a message (or the handshake) not complete by its deadline
    ├── ConnectionClosedError      the peer closed the connection (or it broke)
    ├── TransportError             the transport could not be opened or used
    ├── RemoteError                the peer answered ERROR, with its reason
    ├── AuthenticationError        a peer that does not prove it holds the run's secret
    │   └── ForgedFrameError       a frame after the handshake that fails its tag
    └── UnexpectedMessageError     the peer answered with a message that makes no sense here

Socket and serial exceptions are converted in the transports
(:mod:`kenning.runtimeprotocols.network`, :mod:`kenning.runtimeprotocols.serial`).
"""

from __future__ import annotations

from typing import Literal

from kenning.utils.errors import ProtocolError

FrameErrorKind = Literal[
    "magic",
    "version",
    "header-checksum",
    "checksum",
    "oversized",
    "type",
    "flags",
    "truncated",
    "sequence",
]


class FrameError(ProtocolError):
    """A frame that does not follow the wire format.

    Parameters
    ----------
    kind : str
        What was wrong: ``magic``, ``version``, ``header-checksum``, ``checksum``
        (payload), ``oversized``, ``type``, ``flags``, ``truncated`` or
        ``sequence`` (a continuation frame that does not continue the message).
    message : str
        A sentence for people.
    in_sync : bool
        Whether the byte stream is still aligned on frame boundaries after the
        bad frame, so the session can go on; otherwise the connection must be
        reset (closed, or drained on a serial line).
    """

    def __init__(self, kind: FrameErrorKind, message: str, in_sync: bool = False) -> None:
        self.kind = kind
        self.in_sync = in_sync
        super().__init__(message)


class ProtocolTimeoutError(ProtocolError):
    """The peer sent nothing for the allowed time.

    Parameters
    ----------
    waiting_for : str
        What was awaited, e.g. ``"reply to PROCESS"``.
    timeout : float
        The limit that passed, in seconds.
    """

    def __init__(self, waiting_for: str, timeout: float | None) -> None:
        self.waiting_for = waiting_for
        self.timeout = timeout
        super().__init__(
            f"no answer from the peer for {timeout:g} s while waiting for {waiting_for} "
            "(raise --timeout if the target is slow)"
            if timeout is not None
            else f"timed out waiting for {waiting_for}"
        )


class DeadlineError(ProtocolTimeoutError):
    """A message, or the handshake, did not arrive whole by its deadline.

    Unlike a plain timeout the peer may have been sending all along, only too slowly
    (a byte every few seconds); the connection is dropped either way.

    Parameters
    ----------
    what : str
        What was due and within how long, e.g. ``"the 512-byte DATA message within 31 s"``.
    """

    def __init__(self, what: str) -> None:
        self.waiting_for = what
        self.timeout = None
        ProtocolError.__init__(self, f"deadline passed: {what} did not arrive in time")


class AuthenticationError(ProtocolError):
    """The peer did not prove it holds the run's secret (or skipped the handshake)."""


class ForgedFrameError(AuthenticationError):
    """A frame after the handshake whose tag is not the sender's (see ``frameauth``).

    Parameters
    ----------
    number : int
        The frame's number in its direction of the session (0: the first after the
        handshake); ``-1`` for a frame that came without a tag.
    suite : str
        The suite the session's frames are tagged with.
    """

    def __init__(self, number: int, suite: str) -> None:
        self.number = number
        self.suite = suite
        what = (
            "a frame without a tag"
            if number < 0
            else f"frame {number} of the session failed its {suite} check"
        )
        super().__init__(
            f"{what}: it was corrupted, changed, injected, replayed or reordered on the way "
            "(frames after the handshake are authenticated); the session ends"
        )


class ConnectionClosedError(ProtocolError):
    """The peer closed the connection, or the connection broke.

    Parameters
    ----------
    message : str
        What happened.
    mid_frame : bool
        Whether it happened inside a frame (a truncated frame) rather than
        cleanly between two.
    """

    def __init__(self, message: str, mid_frame: bool = False) -> None:
        self.mid_frame = mid_frame
        super().__init__(message)


class TransportError(ProtocolError):
    """The transport itself failed: a port that cannot be bound, a device that cannot open."""


class RemoteError(ProtocolError):
    """The peer answered a request with ERROR.

    Parameters
    ----------
    request : str
        Name of the request that failed, e.g. ``"MODEL"``.
    reason : str
        The peer's explanation.
    """

    def __init__(self, request: str, reason: str) -> None:
        self.request = request
        # the text comes from the other machine: no control characters reach a terminal
        self.reason = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in reason)
        super().__init__(f"target answered {request} with ERROR: {self.reason}")


class UnexpectedMessageError(ProtocolError):
    """A message of a type that the session does not expect at this point."""

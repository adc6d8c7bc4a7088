"""One command on a board's SSH channel, run to its end under one deadline.

:func:`run_command` is the one place that waits for a command over SSH. It reads stdout and
stderr at the same time (a thread each: a command that fills one stream while we wait on the
other cannot deadlock), feeds its standard input from another thread, then closes it, and
waits for the exit status, all under one absolute deadline set when the command starts.
Crossing the deadline closes the channel and raises
:class:`~kenning.executors.boarderrors.BoardTimeoutError`, which names the board, the step,
what was awaited and for how long. The caller opens the channel and converts paramiko's
exceptions (:func:`kenning.executors.ssh.connect.ssh_errors`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kenning.executors.boarderrors import BoardTimeoutError, BoardUnreachableError
from kenning.executors.ssh.connect import paramiko

log = logging.getLogger("kenning.executors.ssh.executor")

#: seconds a short command (``uname``, ``df``, ``stat``, ``kill``, ``mkdir``) gets to finish
COMMAND_DEADLINE_S = 120.0
#: seconds any transfer (a file, an image) gets, before its size is counted
TRANSFER_BASE_S = 600.0
#: bytes per second a transfer is allowed at its slowest (1 MB/s)
TRANSFER_RATE = 1_000_000
#: seconds the output may stay open after the exit status (a background child may hold it)
DRAIN_S = 5.0
#: seconds between looks at the deadline while waiting
POLL_S = 0.05
#: what reading or writing a channel may meet when the channel is closed under it
CLOSED = (OSError, EOFError, paramiko.SSHException)
#: bytes of stderr kept for the message of a command that timed out
_TAIL_BYTES = 4096
_LABEL_CHARS = 60


def transfer_deadline(size: int) -> float:
    """Seconds a transfer of ``size`` bytes gets: a fixed part, and the size at the rate."""
    return TRANSFER_BASE_S + max(size, 0) / TRANSFER_RATE


@dataclass(frozen=True)
class Finished:
    """How a command ended: its exit status (-1: none, e.g. killed by a signal) and output.

    ``stdout`` and ``stderr`` are empty when the caller passed its own sinks.
    """

    exit_code: int
    stdout: bytes
    stderr: bytes


class _OverdueError(Exception):
    def __init__(self, awaited: str) -> None:
        self.awaited = awaited


class _Feeder:
    """Sends ``chunks`` to the command's stdin in a thread, then closes it."""

    def __init__(self, channel: Any, chunks: Iterable[bytes], sent: Callable[[int], None]) -> None:
        self.channel = channel
        self.count = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._feed, args=(chunks, sent), daemon=True)
        self.thread.start()

    def _feed(self, chunks: Iterable[bytes], sent: Callable[[int], None]) -> None:
        try:
            for chunk in chunks:
                # blocks while the board's window is full; closing the channel ends it
                self.channel.sendall(chunk)
                self.count += len(chunk)
                sent(len(chunk))
            self.channel.shutdown_write()
        except BaseException as exc:  # noqa: BLE001 - raised again in the waiting thread
            self.error = exc

    @property
    def busy(self) -> bool:
        return self.thread.is_alive()


class _Tail:
    """The last bytes of a stream, passed on to ``sink``."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.sink(data)
        self.data += data
        del self.data[:-_TAIL_BYTES]

    def lines(self) -> list[str]:
        return self.data.decode(errors="replace").splitlines()


def run_command(
    channel: Any,
    command: str,
    *,
    board: str,
    step: str,
    deadline_s: float | None,
    stdin: Iterable[bytes] | None = None,
    sent: Callable[[int], None] | None = None,
    stdout: Callable[[bytes], None] | None = None,
    stderr: Callable[[bytes], None] | None = None,
    name: str | None = None,
) -> Finished:
    """Run ``command`` on an open session ``channel`` until it exits, then close the channel.

    Parameters
    ----------
    channel : paramiko.Channel
        A session channel, not yet used.
    command : str
        The shell command line.
    board, step : str
        For messages: the board, and what the command is for.
    deadline_s : float or None
        Seconds from now for the whole command: input, exit status, output (None: no limit).
    stdin : iterable of bytes, optional
        Sent as its standard input, which is then closed (None: closed at once).
    sent : callable, optional
        Called with the size of each chunk of ``stdin`` sent (a progress bar).
    stdout, stderr : callable, optional
        Called with its output as it comes (from other threads); default: kept and returned.
    name : str, optional
        How messages name the command (default: ``command``, shortened).

    Returns
    -------
    Finished
        The exit status, and the output unless sinks were given.

    Raises
    ------
    BoardTimeoutError
        If the deadline passes first; the channel is closed (the command may still run).
    BoardUnreachableError
        If the connection is lost.
    Exception
        What feeding ``stdin`` raised (its iterator's errors, or paramiko's) when the command
        then exits 0 or not at all; the caller converts it.
    """
    label = _shortened(name or command)
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    out, err = bytearray(), bytearray()
    tail = _Tail(stderr or err.extend)
    feeder: _Feeder | None = None
    try:
        channel.exec_command(command)
        readers = [
            _pump(channel.recv, stdout or out.extend),
            _pump(channel.recv_stderr, tail.write),
        ]
        if stdin is None:
            channel.shutdown_write()  # a command that reads its input gets EOF, not a wait
        else:
            feeder = _Feeder(channel, stdin, sent or (lambda n: None))
        try:
            _wait(channel, feeder, readers, deadline)
        except _OverdueError as overdue:
            channel.close()
            awaited = f"`{label}` {overdue.awaited}"
            raise BoardTimeoutError(
                board, step, awaited, deadline_s or 0.0, tail.lines()
            ) from None
    finally:
        channel.close()  # ends the readers, and a feeder waiting for the board's window
    code = channel.recv_exit_status()
    if code == -1 and not channel.get_transport().is_active():
        raise BoardUnreachableError(board, step, "the SSH connection was lost")
    if feeder is not None:
        feeder.thread.join(DRAIN_S)
        if feeder.error is not None and code == 0:
            raise feeder.error
    return Finished(code, bytes(out), bytes(err))


def _wait(
    channel: Any, feeder: _Feeder | None, readers: list[threading.Thread], deadline: float | None
) -> None:
    """Wait for the exit status, then the end of the output, until the deadline."""

    def left(limit: float) -> float:
        return limit if deadline is None else min(limit, deadline - time.monotonic())

    failed_at: float | None = None
    while not channel.status_event.is_set():
        if feeder is not None and feeder.error is not None:
            # the board's own failure explains more than ours: wait a little for its status
            failed_at = failed_at or time.monotonic()
            if time.monotonic() - failed_at > DRAIN_S:
                raise feeder.error
        if left(POLL_S) <= 0:
            if feeder is not None and feeder.busy:
                raise _OverdueError(f"had not taken all its input ({feeder.count:,} bytes sent)")
            raise _OverdueError("gave no exit status")
        channel.status_event.wait(left(POLL_S))
    drained = time.monotonic() + DRAIN_S
    for reader in readers:
        reader.join(max(0.0, left(drained - time.monotonic())))
    if any(reader.is_alive() for reader in readers):
        if deadline is not None and time.monotonic() >= deadline:
            raise _OverdueError("exited, but its output did not end")
        log.debug("output still open %g s after the exit status: closing it", DRAIN_S)


def _pump(recv: Callable[[int], bytes], write: Callable[[bytes], None]) -> threading.Thread:
    """Copy ``recv`` to ``write`` in a thread until EOF, or until the channel is closed."""

    def copy() -> None:
        try:
            while data := recv(65536):
                write(data)
        except CLOSED:
            return  # closed under us: the waiting thread says why

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def _shortened(command: str) -> str:
    return command if len(command) <= _LABEL_CHARS else command[: _LABEL_CHARS - 3] + "..."

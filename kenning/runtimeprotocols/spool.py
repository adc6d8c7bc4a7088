"""Writing and hashing a stream in a thread while its next piece arrives.

A large model's upload costs the server three passes over its bytes: receiving them (and
checking their frame tags), writing them to the file, and hashing them (SHA-256). Done one
after the other on one thread, the host waits for all three; :class:`Spool` hands each piece
to a thread that writes and hashes it (both release the interpreter's lock) while the
receiving thread reads the next. Pieces are copied on the way: the reader reuses its buffer.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

#: pieces waiting for the writer at most (each up to the reader's piece size, 1 MiB)
DEPTH = 4
#: seconds the disk may take no piece before the store fails
STALL_S = 60.0
_END = None


class Spool:
    """Writes pieces to ``out`` and adds them to ``digest`` in a thread, in order.

    Use as a context manager: leaving it waits until every piece is written, then raises
    the first error of the disk, if any; leaving it on an exception stops the thread.

    Parameters
    ----------
    out : BinaryIO
        The open file.
    digest : hashlib._Hash
        The running hash of what is written.
    path : Path
        The file's destination, for messages.
    """

    def __init__(self, out: BinaryIO, digest: hashlib._Hash, path: Path) -> None:
        self.out, self.digest, self.path = out, digest, path
        self._queue: queue.Queue[bytes | None] = queue.Queue(DEPTH)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="kenning-spool", daemon=True)

    def __enter__(self) -> Spool:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            piece = self._queue.get()
            if piece is _END:
                return
            if self._error is not None:
                continue  # drain: the receiving thread raises it at its next piece
            try:
                self.out.write(piece)
                self.digest.update(piece)
            except OSError as exc:
                self._error = exc

    def put(self, piece: memoryview) -> None:
        """Queue a copy of ``piece``.

        Raises
        ------
        OSError
            The disk's first error; :class:`TimeoutError` if it took nothing for
            :data:`STALL_S` seconds.
        """
        if self._error is not None:
            raise self._error
        self._put(bytes(piece))

    def _put(self, item: bytes | None) -> None:
        try:
            self._queue.put(item, timeout=STALL_S)
        except queue.Full:
            raise TimeoutError(
                f"writing {self.path} took no data for {STALL_S:g} s (a stalled disk?)"
            ) from None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:
            self._error = self._error or OSError("stopped")  # the writer skips what is left
        self._put(_END)
        self._thread.join(STALL_S)
        if self._thread.is_alive():
            raise TimeoutError(f"writing {self.path} did not finish within {STALL_S:g} s")
        if kind is None and self._error is not None:
            raise self._error

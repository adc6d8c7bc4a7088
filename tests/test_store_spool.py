"""A large upload is written and hashed in a thread beside its arrival (issue 28).

Real files and a real disk limit (RLIMIT_FSIZE in a child process, so the error comes from
the writing thread): the bytes and the SHA-256 are those of the stream, in order; a disk
error in the thread is the store's :class:`StorageError` and leaves the destination as it
was; a stream that fails while it arrives leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_protocol import ROOT

from kenning.runtimeprotocols.store import BESIDE_FROM, store_stream

PIECE = 1 << 20


class _HostGoneError(Exception):
    """What the frame reader raises when the host goes away (not an error of the disk)."""


def _pieces(data: bytes, fail_at: int | None = None) -> Iterator[memoryview]:
    """``data`` piece by piece through one reused buffer, as the frame reader yields it."""
    buffer = bytearray(PIECE)
    for index, start in enumerate(range(0, len(data), PIECE)):
        if index == fail_at:
            raise _HostGoneError("the host went away")
        piece = data[start : start + PIECE]
        buffer[: len(piece)] = piece
        yield memoryview(buffer)[: len(piece)]


def test_a_large_stream_is_stored_whole_and_in_order_by_the_thread(tmp_path: Path) -> None:
    data = os.urandom(BESIDE_FROM + 3 * PIECE + 17)
    path = tmp_path / "model.bin"
    before = set(threading.enumerate())
    seen: set[str] = set()

    def watched() -> Iterator[memoryview]:
        for piece in _pieces(data):
            yield piece
            seen.update(t.name for t in threading.enumerate())

    sha256, previous = store_stream(path, watched(), size=len(data))
    assert "kenning-spool" in seen  # written beside the arrival, not on the same thread
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert previous is None
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]


def test_a_stream_that_fails_midway_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"the previous model")
    data = os.urandom(BESIDE_FROM + PIECE)
    with pytest.raises(_HostGoneError, match="went away"):
        store_stream(path, _pieces(data, fail_at=5), keep=True, size=len(data))
    assert path.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


_CAPPED = """
import resource, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_store_spool import _pieces
from kenning.runtimeprotocols.store import BESIDE_FROM, StorageError, store_stream
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
path = Path(sys.argv[1])
data = bytes(BESIDE_FROM + 1)
try:
    store_stream(path, _pieces(data), keep=True, size=len(data))
except StorageError as exc:
    print(exc)
"""


def test_a_disk_error_in_the_thread_is_a_storage_error_and_the_old_file_stays(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"the previous model")
    tests = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", _CAPPED, str(path), tests],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"cannot store {path}: File too large"
    assert path.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]

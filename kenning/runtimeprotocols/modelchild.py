"""The process a received model runs in: ``python -m kenning.runtimeprotocols.modelchild S M``.

:class:`~kenning.runtimeprotocols.modelworker.ModelWorker` starts it for each model the
server receives. ``S`` is a connected UNIX socket
(:class:`~kenning.runtimeprotocols.modellink.ModelLink`) for requests and replies, ``M`` a
shared memory file (``memfd``) that holds the host's input: the server writes each ``DATA``
there without waking this process. The server itself never loads a model, so a model that
crashes (a native library with changed bytes: SIGILL, SIGSEGV) takes this process down, not
the server, which tells the host which signal and which model.

The first request is ``LOAD`` with the runtime, pickled by the server that made it (the same
code, on the same machine), answered with its name and version. Then each ``RUN`` carries
the input's length (a uint64) and a flag (1: a new input is in the shared memory); this
process hands the input to ``Runtime.prepare_input``, times ``Runtime.run`` alone, and
answers with the seconds it took and its peak resident memory (a float64, a uint64), then the
outputs (``Runtime.upload_output``). One request per sample, so one wake-up. A failure is a
reply with status ``ERROR`` and its text; the process goes on until the server closes the
socket.
"""

from __future__ import annotations

import importlib
import json
import logging
import mmap
import os
import pickle
import socket
import struct
import sys
import time
from typing import Any

from kenning.core.monitor import peak_rss_bytes
from kenning.runtimeprotocols.modellink import LinkClosedError, ModelLink
from kenning.utils.errors import error_text

LOAD, RUN = 1, 3
OK, ERROR = 0, 1
#: what the model was doing, for the server's messages
OPERATIONS = {LOAD: "loading the model", RUN: "running the model"}
#: RUN's request: the input's length, whether it is new
RUN_REQUEST = struct.Struct("<QB")
#: the start of RUN's reply: seconds Runtime.run took, this process's peak RSS in bytes
RUN_REPLY = struct.Struct("<dQ")


class _Model:
    """The runtime this process loaded, and the shared input buffer."""

    def __init__(self, memfd: int) -> None:
        self.memfd = memfd
        self.runtime: Any = None
        self._shared: mmap.mmap | None = None

    def _input(self, length: int) -> bytes:
        if self._shared is None or len(self._shared) < length:  # the server grew the file
            if self._shared is not None:
                self._shared.close()
            self._shared = mmap.mmap(self.memfd, os.fstat(self.memfd).st_size)
        return self._shared[:length]

    def answer(self, op: int, payload: memoryview) -> bytes:
        if op == LOAD:
            self.runtime = pickle.loads(payload)
            self.runtime.prepare_model(None)
            name, version = self.runtime.get_framework_and_version()
            info = {"runtime": name, "version": version, "peak_rss_bytes": peak_rss_bytes()}
            return json.dumps(info).encode()
        if self.runtime is None:
            raise RuntimeError("no model loaded in this process")
        if op == RUN:
            length, new = RUN_REQUEST.unpack(payload)
            if new:
                self.runtime.prepare_input(self._input(length))
            start = time.perf_counter()
            self.runtime.run()
            elapsed = time.perf_counter() - start
            return RUN_REPLY.pack(elapsed, peak_rss_bytes()) + bytes(self.runtime.upload_output())
        raise ValueError(f"unknown operation {op}")


def serve(link: ModelLink, model: _Model) -> None:
    """Answer the server's requests until it closes the socket."""
    while True:
        op, payload = link.receive(None)
        try:
            status, reply = OK, model.answer(op, payload)
        except MemoryError:
            status, reply = ERROR, f"out of memory {OPERATIONS.get(op, 'working')}".encode()
        except Exception as exc:  # noqa: BLE001 - every failure is the server's to report
            status, reply = ERROR, error_text(exc).encode()
        link.send(status, reply, None)


def main(argv: list[str]) -> int:
    """Serve the server on socket ``argv[0]`` with the shared input ``argv[1]``.

    ``argv[2]``, when given, names the runtime's module: it is imported at once, while the
    server still receives the model (a failure shows at ``LOAD``).
    """
    logging.basicConfig(level=logging.WARNING, format="kenning.model: %(levelname)s %(message)s")
    if len(argv) > 2:
        try:
            importlib.import_module(argv[2])
        except Exception:  # noqa: BLE001 - LOAD imports it again and reports the failure
            pass
    link = ModelLink(socket.socket(fileno=int(argv[0])), spin=0.0)  # requests come seldom
    try:
        serve(link, _Model(int(argv[1])))
    except (LinkClosedError, BrokenPipeError, ConnectionResetError):
        pass  # the server went away
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

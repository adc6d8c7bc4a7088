"""Each received model runs in a process of its own, which the server watches.

A model is code: a TVM library is native code, and a framework can crash on a damaged
file. :class:`ModelWorker` starts :mod:`kenning.runtimeprotocols.modelchild` for each model
the server receives, hands it the server's runtime and relays the host's requests to it.
When that process dies (a signal such as SIGILL or SIGSEGV, or an exit) or stops answering,
the request gets an ERROR that names the signal, what the model was doing and the model's
SHA-256; the process is gone, the server is not, and the next model gets a fresh process.
The host's session goes on (it may send a model again); the next host is served as usual.

The model's process is a child of the server, so the load sampler counts its CPU as the
run's own, and its peak memory is what ``STATS`` reports as the model's. Each ``DATA`` is
copied into memory both processes share, without waking the model's; ``PROCESS`` is then
one request to it (input, timed run, outputs), so a sample costs one round trip between the
two processes.
"""

from __future__ import annotations

import errno
import json
import logging
import mmap
import os
import pickle
import signal
import subprocess
from typing import Any

from kenning.core.monitor import peak_rss_bytes
from kenning.core.runtime import Runtime
from kenning.runtimeprotocols.modelchild import (
    ERROR,
    LOAD,
    OPERATIONS,
    RUN,
    RUN_REPLY,
    RUN_REQUEST,
)
from kenning.runtimeprotocols.modellink import ModelLink
from kenning.runtimeprotocols.modelspawn import KILLED_S, ModelProcess, ModelProcessError, Spare

log = logging.getLogger("kenning.server")

#: seconds the model's process gets to start and load a model
LOAD_TIMEOUT_S = 300.0


class ModelWorker:
    """The host's model, in a process of its own (the server's side of it).

    Parameters
    ----------
    runtime : Runtime
        The server's runtime, not loaded; a copy of it loads each model in the child.
    timeout : float
        Seconds each request but loading may take (an inference included).
    """

    def __init__(self, runtime: Runtime, timeout: float) -> None:
        self.runtime = runtime
        self.timeout = timeout
        self.sha256 = ""
        self.framework: tuple[str, str] = ("", "")
        self._child: ModelProcess | None = None
        self._link: ModelLink | None = None
        self._spare = Spare(type(runtime).__module__)
        self._shared: mmap.mmap | None = None
        self._input_length = 0
        self._new_input = False
        self._output = b""
        self._child_peak = 0

    @property
    def save_model_path(self) -> Any:
        return self.runtime.save_model_path

    @property
    def loaded(self) -> bool:
        """Whether a model is loaded (its process lives)."""
        return self._link is not None and self.framework != ("", "")

    # -- the server's requests -------------------------------------------------------
    def prepare(self) -> None:
        """Start the next model's process now, unless one is waiting (see ``modelspawn``).

        Called when the server is idle and when a model starts to arrive: :meth:`load` then
        finds the interpreter started, rather than waiting for it after the upload.
        """
        self._spare.fill()

    def load(self, sha256: str) -> tuple[str, str]:
        """Load the model at ``save_model_path`` in a fresh process (a spare, when waiting).

        Returns
        -------
        tuple
            The runtime's name and version.

        Raises
        ------
        ModelProcessError
            If the model does not load (its text), or the process dies or hangs.
        """
        self.stop()
        self.sha256, self.framework = sha256, ("", "")
        self._child = self._spare.take()
        self._link = self._child.link
        reply = self._request(LOAD, pickle.dumps(self.runtime), LOAD_TIMEOUT_S)
        info = json.loads(bytes(reply))
        self._child_peak = int(info.get("peak_rss_bytes", 0))
        self.framework = (str(info["runtime"]), str(info["version"]))
        return self.framework

    def input_view(self, size: int) -> memoryview | None:
        """Where the next input of ``size`` bytes can be received to: the shared memory.

        The server reads a ``DATA`` payload straight into it (no copy); release the view
        before the next request. ``None`` without a model.

        Raises
        ------
        MemoryError
            If the shared memory cannot grow to ``size``.
        """
        if self._link is None:
            return None
        if self._shared is None or len(self._shared) < size:
            self._grow(size)
        assert self._shared is not None
        return memoryview(self._shared)[:size]

    def prepare_input(self, data: bytes | bytearray | memoryview) -> None:
        """Put one batch of inputs where the model's process reads it at the next run.

        ``data`` may already be there (received into :meth:`input_view`).

        Raises
        ------
        ModelProcessError
            If no model is loaded.
        MemoryError
            If the shared memory cannot grow to the input's size.
        """
        if self._link is None:
            raise ModelProcessError("no model loaded: send IOSPEC and MODEL first")
        size = len(data)
        if not (isinstance(data, memoryview) and data.obj is self._shared):
            if self._shared is None or len(self._shared) < size:
                self._grow(size)
            assert self._shared is not None
            self._shared[:size] = data
        self._input_length, self._new_input = size, True

    def run(self) -> float:
        """Run the model once; the seconds ``Runtime.run`` took, on the child's clock.

        The child takes the input first and hands over the outputs after (neither timed).
        """
        request = RUN_REQUEST.pack(self._input_length, self._new_input)
        self._new_input = False
        reply = self._request(RUN, request, self.timeout)
        elapsed, self._child_peak = RUN_REPLY.unpack(reply[: RUN_REPLY.size])
        self._output = bytes(reply[RUN_REPLY.size :])
        return float(elapsed)

    def upload_output(self) -> bytes:
        """The outputs of the last :meth:`run`."""
        return self._output

    def peak_rss_bytes(self) -> int:
        """The larger peak resident set of the model's process and the server's."""
        return max(peak_rss_bytes(), self._child_peak)

    # -- the process ------------------------------------------------------------------
    def _grow(self, size: int) -> None:
        """Make the shared input at least ``size`` bytes (a power of two, from 64 KiB)."""
        capacity = max(1 << 16, 1 << (size - 1).bit_length())
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        try:
            assert self._child is not None
            os.ftruncate(self._child.memfd, capacity)
            self._shared = mmap.mmap(self._child.memfd, capacity)
        except OSError as exc:
            if exc.errno in (errno.ENOMEM, errno.ENOSPC, errno.EFBIG):
                raise MemoryError(f"no memory for a {size}-byte input") from exc
            raise

    def _request(self, op: int, payload: bytes | bytearray, timeout: float) -> memoryview:
        link = self._link
        if link is None:
            raise ModelProcessError("no model loaded: send IOSPEC and MODEL first")
        try:
            link.send(op, payload, timeout)
            status, reply = link.receive(timeout)
        except TimeoutError:
            self.stop()
            raise ModelProcessError(
                f"the model did not finish {OPERATIONS[op]} within {timeout:g} s "
                f"(model sha256 {self.sha256}): its process was stopped; send the model again"
            ) from None
        except OSError:  # the process died (a closed link too): its exit status says how
            raise ModelProcessError(self._death(op)) from None
        if status == ERROR:
            raise ModelProcessError(bytes(reply).decode("utf-8", "replace"))
        return reply

    def _death(self, op: int) -> str:
        """What became of the process, which closed its end while ``op`` was under way."""
        child, how = self._child, "closed its connection"
        if child is not None:
            try:
                code = child.process.wait(KILLED_S)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None and code < 0:
                how = f"was killed by {_signal_name(-code)}"
            elif code is not None:
                how = f"exited with status {code}"
        self.stop()
        text = (
            f"the model's process {how} while {OPERATIONS[op]} "
            f"(model sha256 {self.sha256}); the server goes on: send a model again"
        )
        log.warning("%s", text)
        return text

    def stop(self) -> None:
        """End the model's process, at once (a spare, if any, waits on).

        Closing its socket ends it; one not gone within 50 ms (a framework's slow teardown, a
        stuck model) is killed, so no host waits for it.
        """
        child, self._child, self._link = self._child, None, None
        self._new_input = False
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        if child is not None:
            child.close()

    def close(self) -> None:
        """End the model's process and the spare."""
        self.stop()
        self._spare.close()


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} (signal {number})"
    except ValueError:
        return f"signal {number}"

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
import socket
import subprocess
import sys
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
from kenning.utils.errors import KenningError

log = logging.getLogger("kenning.server")

#: seconds the model's process gets to start and load a model, and to exit when told
LOAD_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 5.0
_BUFFER = 4 << 20
#: the module the model's process runs
CHILD = "kenning.runtimeprotocols.modelchild"


class ModelProcessError(KenningError):
    """The model's process failed a request: it said why, crashed or stopped answering."""


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
        self._process: subprocess.Popen[bytes] | None = None
        self._link: ModelLink | None = None
        self._memfd = -1
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
    def load(self, sha256: str) -> tuple[str, str]:
        """Start a fresh process and load the model at ``save_model_path`` in it.

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
        self._start()
        reply = self._request(LOAD, pickle.dumps(self.runtime), LOAD_TIMEOUT_S)
        info = json.loads(bytes(reply))
        self._child_peak = int(info.get("peak_rss_bytes", 0))
        self.framework = (str(info["runtime"]), str(info["version"]))
        return self.framework

    def prepare_input(self, data: bytes | bytearray) -> None:
        """Put one batch of inputs where the model's process reads it at the next run.

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
    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for sock in (ours, theirs):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        self._memfd = os.memfd_create("kenning-model-input")
        # the server may run from a zip (a board): the child finds kenning where it did
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        fds = [theirs.fileno(), self._memfd]
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", CHILD, *map(str, fds)],
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno(),
                env=env,
            )
        except OSError as exc:
            ours.close()
            raise ModelProcessError(f"cannot start a process for the model: {exc}") from exc
        finally:
            theirs.close()
        self._link = ModelLink(ours)

    def _grow(self, size: int) -> None:
        """Make the shared input at least ``size`` bytes (a power of two, from 64 KiB)."""
        capacity = max(1 << 16, 1 << (size - 1).bit_length())
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        try:
            os.ftruncate(self._memfd, capacity)
            self._shared = mmap.mmap(self._memfd, capacity)
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
        process, how = self._process, "closed its connection"
        if process is not None:
            try:
                code = process.wait(STOP_TIMEOUT_S)
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
        """End the model's process, at once.

        Closing its socket ends it; one not gone within 50 ms (a framework's slow teardown, a
        stuck model) is killed, so no host waits for it.
        """
        link, process = self._link, self._process
        self._link = self._process = None
        self._new_input = False
        if link is not None:
            link.close()
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        if self._memfd >= 0:
            os.close(self._memfd)
            self._memfd = -1
        if process is not None and process.poll() is None:
            try:
                process.wait(0.05)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} (signal {number})"
    except ValueError:
        return f"signal {number}"

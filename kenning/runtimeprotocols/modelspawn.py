"""Starting a model's process, and keeping one started ahead (a spare).

A model's process is a fresh Python interpreter that imports kenning and the runtime's module
(numpy and pydantic at least, a framework often): a fifth of a second of CPU here, more with
a framework. :class:`Spare` starts the next one while the server has nothing else to do
(when it starts, when a host leaves) or while a model is still arriving, so a ``MODEL`` waits
for its upload and its load, not for an interpreter to start. One spare at most; a spare that
died (or was never started) is replaced by a fresh start when a model needs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass

from kenning.runtimeprotocols.modellink import ModelLink
from kenning.utils.errors import KenningError

#: the module the model's process runs
CHILD = "kenning.runtimeprotocols.modelchild"
#: seconds a process gets to exit once its socket closed, before it is killed
EXIT_S = 0.05
#: seconds to wait for a killed process
KILLED_S = 5.0
_BUFFER = 4 << 20


class ModelProcessError(KenningError):
    """The model's process failed a request: it said why, crashed or stopped answering."""


@dataclass
class ModelProcess:
    """A started model's process: the process, the socket to it and the shared input file."""

    process: subprocess.Popen[bytes]
    link: ModelLink
    memfd: int

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def close(self) -> None:
        """End the process, at once: closing its socket ends it, a slow one is killed."""
        self.link.close()
        os.close(self.memfd)
        if self.process.poll() is None:
            try:
                self.process.wait(EXIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(KILLED_S)


def start(module: str) -> ModelProcess:
    """Start a model's process that imports ``module`` (the runtime's) at once.

    Raises
    ------
    ModelProcessError
        If the process cannot be started.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
    memfd = os.memfd_create("kenning-model-input")
    # the server may run from a zip (a board): the child finds kenning where it did
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    fds = [theirs.fileno(), memfd]
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", CHILD, *map(str, fds), module],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),
            env=env,
        )
    except OSError as exc:
        ours.close()
        os.close(memfd)
        raise ModelProcessError(f"cannot start a process for the model: {exc}") from exc
    finally:
        theirs.close()
    return ModelProcess(process, ModelLink(ours), memfd)


class Spare:
    """At most one model's process started ahead of need, for runtime module ``module``."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._spare: ModelProcess | None = None

    def fill(self) -> None:
        """Start the spare now unless one is waiting (a failure is left for :meth:`take`)."""
        if self._spare is not None and self._spare.alive():
            return
        self.close()
        try:
            self._spare = start(self.module)
        except ModelProcessError:
            self._spare = None

    def take(self) -> ModelProcess:
        """The spare, or a process started now when none is waiting alive.

        Raises
        ------
        ModelProcessError
            If a process cannot be started.
        """
        spare, self._spare = self._spare, None
        if spare is not None and spare.alive():
            return spare
        if spare is not None:
            spare.close()
        return start(self.module)

    def close(self) -> None:
        """End the spare, if any."""
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()

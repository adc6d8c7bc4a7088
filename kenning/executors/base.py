"""The Executor interface: run one step (a command) somewhere, and record where.

An executor runs a command in an environment: this Python (:mod:`kenning.executors.local`),
a container (:mod:`kenning.executors.docker`), a board over SSH. Whatever the place, it
streams the command's output live, raises an :class:`~kenning.executors.errors.ExecutionError`
carrying the exit code and the stderr tail when it fails, and returns an
:class:`ExecutionRecord`, the provenance of the step that a results file keeps.
"""

from __future__ import annotations

import codecs
import collections
import socket
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Self, TextIO

from pydantic import BaseModel, ConfigDict, Field

from kenning.executors.errors import STDERR_TAIL_LINES

#: what ``uname -m`` (or a user) may say -> the Docker architecture names kenning uses
ARCH_ALIASES = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "amd64", "amd64": "amd64"}


def docker_arch(machine: str) -> str:
    """``x86_64`` -> ``amd64``, ``aarch64`` -> ``arm64``; other names are returned unchanged."""
    return ARCH_ALIASES.get(machine.strip().lower(), machine.strip())


class ExecutionRecord(BaseModel):
    """The provenance of one step: what ran, where, from which image, with what outcome."""

    model_config = ConfigDict(extra="forbid")

    executor: str = Field(description="'local', 'docker', 'ssh', ...")
    environment: str | None = Field(
        None, description="the environment the step asked for (catalogue image name)"
    )
    image: str | None = Field(None, description="image reference it ran in; None when local")
    image_id: str | None = Field(None, description="the image's content ID (sha256:...)")
    repo_digests: list[str] = Field(
        default_factory=list,
        description="where the image was published: REGISTRY/kenning/NAME@sha256:DIGEST "
        "(empty when it was never pushed)",
    )
    apt_drift: list[str] = Field(
        default_factory=list,
        description="Debian pins the archive no longer had when the image was built "
        "('package pinned -> installed')",
    )
    lock_sha256: dict[str, str] = Field(
        default_factory=dict, description="sha256 of each lock file the image was built from"
    )
    kenning_version: str
    git_commit: str | None = Field(None, description="commit of the kenning code that ran")
    sources_sha256: str | None = Field(
        None, description="hash of the kenning sources built into the image"
    )
    command: list[str]
    template: list[str] | None = Field(
        None, description="the command with {name} placeholders for what changes between runs"
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="the values of the template's placeholders"
    )
    inputs: list[str] = Field(
        default_factory=list, description="paths (relative to workdir) the step reads"
    )
    outputs: list[str] = Field(
        default_factory=list, description="paths (relative to workdir) the step writes"
    )
    inputs_sha256: dict[str, str] = Field(
        default_factory=dict,
        description="sha256 of each input as the step read it (a folder: of its files' "
        "names and bytes; see kenning.utils.provenance.sha256_tree)",
    )
    workdir: str
    host: str = Field(description="host name of the machine that ran the step")
    platform: str = Field(description="os/architecture the step ran on, e.g. linux/amd64")
    exit_code: int
    started_at: datetime
    duration_s: float


class Executor(ABC):
    """Runs commands in one kind of environment.

    Implementations: :class:`kenning.executors.local.LocalExecutor` (reference, smallest),
    :class:`kenning.executors.docker.DockerExecutor`.
    """

    #: short name, as in ``--executor NAME``
    name: ClassVar[str] = ""

    @abstractmethod
    def run(
        self,
        command: Sequence[str],
        *,
        image: str | None = None,
        workdir: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> ExecutionRecord:
        """Run ``command`` to completion, streaming its output.

        Parameters
        ----------
        command : sequence of str
            Program and arguments; a leading ``"python"`` means the environment's Python.
        image : str, optional
            Catalogue image name (``"compile-tvm"``) or image reference the step belongs in.
        workdir : Path, optional
            Working folder (default: the current one); paths in ``command`` are relative to it.
        env : mapping, optional
            Extra environment variables.
        timeout : float, optional
            Seconds before the command is stopped.
        check : bool
            Raise when the command exits non-zero (else return the record).
        stdout, stderr : TextIO, optional
            Where its output goes (default: this process's streams).

        Returns
        -------
        ExecutionRecord
            What ran, where, and how it ended.

        Raises
        ------
        ExecutionError
            If ``check`` and the command exits non-zero, or on timeout.
        ExecutorError
            If the environment cannot be used.
        """
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the executor holds (connections); it cannot be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class OutputSink:
    """Forwards a byte stream to a text stream and keeps its last lines."""

    def __init__(self, target: TextIO, keep: int = STDERR_TAIL_LINES) -> None:
        self.target = target
        self.tail: collections.deque[str] = collections.deque(maxlen=keep)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def write(self, data: bytes) -> None:
        """Forward ``data`` and remember complete lines."""
        text = self._decoder.decode(data)
        if not text:
            return
        self.target.write(text)
        self.target.flush()
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        self.tail.extend(line.rstrip("\r") for line in lines)

    def lines(self) -> list[str]:
        """The last lines seen, including an unterminated final one."""
        rest = self._partial + self._decoder.decode(b"", final=True)
        return [*self.tail, rest] if rest else list(self.tail)


def hostname() -> str:
    """Return the host name of this machine."""
    return socket.gethostname()

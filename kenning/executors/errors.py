"""Errors of running steps in an environment and of preparing those environments.

::

    KenningError
    └── ExecutorError                 an environment cannot be used
        ├── DockerUnavailableError    no Docker daemon answers (or the SDK is missing)
        ├── ImageNotFoundError        an image is not built on this machine
        ├── ImageBuildError           building an image (or the offline base) failed
        ├── RegistryError             a registry cannot be started, pushed to or pulled from
        ├── ExecutionError            a step ran and failed (command, exit code, stderr tail)
        │   ├── CommandError          ... as a local subprocess
        │   ├── ContainerError        ... in a container (also carries the image)
        │   ├── ExecutionTimeoutError ... did not finish in time and was stopped
        │   ├── ExecutionCancelledError ... called off by its caller (a lost board) and stopped
        │   └── RemoteCommandError    ... on a board over SSH (also carries board, step)
        └── BoardError                a step on a board failed (carries board, step, log tail)
            ├── BoardUnreachableError      not resolved, refused, timed out, connection lost
            ├── BoardTimeoutError          what was awaited (exit status, SFTP) did not come
            ├── AuthenticationRefusedError the board's sshd refused our keys
            ├── HostKeyError               host key unknown (not trusted yet) or CHANGED
            └── RemoteSpaceError           no space left while pushing a file

The board errors (``BoardError`` and below, and ``RemoteCommandError``) are in
:mod:`kenning.executors.boarderrors`. Every ``ExecutionError`` carries the step's record
(``.record``) when the executor made one, as invoke's ``Failure.result`` does.

Docker SDK exceptions are converted in one place,
:func:`kenning.executors.dockerclient.docker_errors`; paramiko and socket exceptions in
:func:`kenning.executors.ssh.connect.ssh_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from kenning.utils.errors import KenningError

#: how many trailing stderr lines an ExecutionError keeps and prints
STDERR_TAIL_LINES = 20


class ExecutorError(KenningError):
    """An execution environment that cannot be used."""


class DockerUnavailableError(ExecutorError):
    """No Docker daemon answers, or the docker SDK is not installed.

    Parameters
    ----------
    reason : str
        What the SDK reported.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Docker is not available ({reason}); start the daemon with `.ci/setup-docker` "
            "(or `sudo systemctl start docker`), or use the local executor (--executor local)"
        )


class ImageNotFoundError(ExecutorError):
    """An image that has not been built on this machine.

    Parameters
    ----------
    image : str
        The image reference that was looked up.
    hint : str
        The command that builds it.
    """

    def __init__(self, image: str, hint: str) -> None:
        self.image = image
        self.hint = hint
        super().__init__(f"image {image} is not built on this machine; build it with: {hint}")


class ImageBuildError(ExecutorError):
    """Building an image failed.

    Parameters
    ----------
    image : str
        The image being built.
    message : str
        What failed.
    log_tail : sequence of str
        The last lines of the build output.
    """

    def __init__(self, image: str, message: str, log_tail: Sequence[str] = ()) -> None:
        self.image = image
        self.log_tail = list(log_tail)
        tail = "".join(f"\n    {line}" for line in self.log_tail)
        super().__init__(f"building {image} failed: {message}{tail}")


class RegistryError(ExecutorError):
    """A container registry that cannot be started, pushed to or pulled from.

    Parameters
    ----------
    registry : str
        The registry's address (``HOST:PORT``) or the image reference involved.
    reason : str
        What went wrong and what to do.
    """

    def __init__(self, registry: str, reason: str) -> None:
        self.registry = registry
        self.reason = reason
        super().__init__(f"registry {registry}: {reason}")


class ExecutionError(ExecutorError):
    """A step that ran and failed.

    Parameters
    ----------
    command : sequence of str
        The command that was run.
    exit_code : int
        Its exit status (negative: killed by that signal).
    stderr_tail : sequence of str
        The last lines it wrote to stderr.
    where : str
        Where it ran, e.g. ``"locally"`` or ``"in image kenning/compile-tvm:latest"``.
    outcome : str, optional
        How it ended, for the message (default: ``"exited with status N"``).
    """

    #: the step's record (what ran, where, in which image), when the executor made one
    record: Any = None

    def __init__(
        self,
        command: Sequence[str],
        exit_code: int,
        stderr_tail: Sequence[str],
        where: str,
        outcome: str = "",
    ) -> None:
        self.command = list(command)
        self.exit_code = exit_code
        self.where = where
        self.stderr_tail = list(stderr_tail)[-STDERR_TAIL_LINES:]
        tail = "".join(f"\n    {line}" for line in self.stderr_tail) or " (no stderr output)"
        outcome = outcome or f"exited with status {exit_code}"
        super().__init__(f"`{' '.join(self.command)}` {where} {outcome}; last stderr lines:{tail}")

    def refusal(self) -> str | None:
        """The step's own ``error:`` line when it refused its input (exit status 2), else None.

        A kenning step that refuses a model or data exits 2 after one ``error:`` line naming
        the problem and the fix: that line is the whole story, the command is not.
        """
        if self.exit_code != 2:
            return None
        lines = [line for line in self.stderr_tail if line.startswith("error: ")]
        return lines[-1].removeprefix("error: ") if lines else None

    def with_record(self, record: Any) -> Self:
        """Attach the step's :class:`~kenning.executors.base.ExecutionRecord`; return self."""
        self.record = record
        return self


class CommandError(ExecutionError):
    """A local subprocess exited non-zero."""

    def __init__(self, command: Sequence[str], exit_code: int, stderr_tail: Sequence[str]) -> None:
        super().__init__(command, exit_code, stderr_tail, "run locally")


class ContainerError(ExecutionError):
    """A command in a container exited non-zero.

    Parameters
    ----------
    image : str
        The image the container ran.
    command, exit_code, stderr_tail
        As for :class:`ExecutionError`.
    """

    def __init__(
        self, image: str, command: Sequence[str], exit_code: int, stderr_tail: Sequence[str]
    ) -> None:
        self.image = image
        super().__init__(command, exit_code, stderr_tail, f"in image {image}")


class ExecutionCancelledError(ExecutionError):
    """A step its caller called off before it finished (a board the run lost); it was stopped.

    Parameters
    ----------
    command : sequence of str
        The command that was run.
    reason : str
        Why it was called off.
    stderr_tail : sequence of str
        What it wrote to stderr before being stopped.
    where : str
        Where it ran.
    """

    def __init__(
        self, command: Sequence[str], reason: str, stderr_tail: Sequence[str], where: str
    ) -> None:
        self.reason = reason
        super().__init__(command, -2, stderr_tail, where, f"was stopped: {reason}")


class ExecutionTimeoutError(ExecutionError):
    """A step that did not finish within its time limit; it was stopped.

    Parameters
    ----------
    command : sequence of str
        The command that was run.
    timeout_s : float
        The limit.
    stderr_tail : sequence of str
        What it wrote to stderr before being stopped.
    where : str
        Where it ran.
    note : str, optional
        Said after the outcome (``"; its log: PATH"``).
    """

    def __init__(
        self,
        command: Sequence[str],
        timeout_s: float,
        stderr_tail: Sequence[str],
        where: str,
        note: str = "",
    ) -> None:
        self.timeout_s = timeout_s
        outcome = f"gave no exit status within {timeout_s:g} s and was stopped{note}"
        super().__init__(command, -9, stderr_tail, where, outcome)

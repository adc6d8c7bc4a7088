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
        │   └── RemoteCommandError    ... on a board over SSH (also carries board, step)
        └── BoardError                a step on a board failed (carries board, step, log tail)
            ├── BoardUnreachableError      not resolved, refused, timed out, connection lost
            ├── AuthenticationRefusedError the board's sshd refused our keys
            ├── HostKeyError               host key unknown (not trusted yet) or CHANGED
            └── RemoteSpaceError           no space left while pushing a file

Docker SDK exceptions are converted in one place,
:func:`kenning.executors.dockerclient.docker_errors`; paramiko and socket exceptions in
:func:`kenning.executors.sshconnect.ssh_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kenning.core.errors import KenningError

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
    """

    def __init__(
        self, command: Sequence[str], exit_code: int, stderr_tail: Sequence[str], where: str
    ) -> None:
        self.command = list(command)
        self.exit_code = exit_code
        self.stderr_tail = list(stderr_tail)[-STDERR_TAIL_LINES:]
        tail = "".join(f"\n    {line}" for line in self.stderr_tail) or " (no stderr output)"
        super().__init__(
            f"`{' '.join(self.command)}` {where} exited with status {exit_code}; "
            f"last stderr lines:{tail}"
        )


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
    """

    def __init__(
        self, command: Sequence[str], timeout_s: float, stderr_tail: Sequence[str], where: str
    ) -> None:
        self.timeout_s = timeout_s
        super().__init__(command, -9, stderr_tail, f"{where} (stopped after {timeout_s:g} s)")


class BoardError(ExecutorError):
    """A step on a board (over SSH) that failed; says the board and the step.

    Parameters
    ----------
    board : str
        The board's name (from the inventory, else its host).
    step : str
        What was being done, e.g. ``"connecting"``, ``"pushing model.tflite"``.
    detail : str
        What went wrong.
    log_tail : sequence of str
        The last lines of a relevant log (the server's), if any.
    """

    def __init__(self, board: str, step: str, detail: str, log_tail: Sequence[str] = ()) -> None:
        self.board = board
        self.step = step
        self.detail = detail
        self.log_tail = list(log_tail)[-STDERR_TAIL_LINES:]
        tail = "".join(f"\n    {line}" for line in self.log_tail)
        heading = "; its log ends:" if self.log_tail else ""
        super().__init__(f"board '{board}', {step}: {detail}{heading}{tail}")


class BoardUnreachableError(BoardError):
    """The board does not answer: name not resolved, connection refused or timed out, lost."""


class AuthenticationRefusedError(BoardError):
    """The board's sshd refused our keys (kenning never sends passwords).

    Parameters
    ----------
    board, step
        As for :class:`BoardError`.
    user : str
        The user we logged in as.
    key : str
        The key file offered, or a description (``"the ssh-agent's keys"``).
    detail : str
        What the server or the key loader said.
    """

    def __init__(self, board: str, step: str, user: str, key: str, detail: str) -> None:
        self.user = user
        self.key = key
        super().__init__(board, step, f"user '{user}' was refused with {key}: {detail}")


class HostKeyError(BoardError):
    """The board's host key is not known, or differs from the one recorded.

    Parameters
    ----------
    board, step
        As for :class:`BoardError`.
    entry : str
        The known_hosts name of the board (``host`` or ``[host]:port``).
    known_hosts : str
        The known_hosts file consulted.
    fingerprint : str
        The key the board presented (type and SHA256 fingerprint).
    changed : bool
        True when a different key is recorded for the board (a possible attack or a
        reinstalled board); False when none is.
    hint : str
        How to fix it (the command to run or the flag to pass).
    """

    def __init__(
        self,
        board: str,
        step: str,
        entry: str,
        known_hosts: str,
        fingerprint: str,
        changed: bool,
        hint: str,
    ) -> None:
        self.entry = entry
        self.known_hosts = known_hosts
        self.fingerprint = fingerprint
        self.changed = changed
        if changed:
            detail = (
                f"the host key of {entry} has CHANGED (it now presents {fingerprint}, "
                f"{known_hosts} records another): someone may be intercepting the connection, "
                f"or the board was reinstalled; {hint}"
            )
        else:
            detail = (
                f"the host key of {entry} ({fingerprint}) is unknown: it is not in "
                f"{known_hosts}; {hint}"
            )
        super().__init__(board, step, detail)


class RemoteSpaceError(BoardError):
    """No space left on the board while pushing a file.

    Parameters
    ----------
    board, step
        As for :class:`BoardError` (the step names the file).
    path : str
        The remote path being written.
    needed : int
        Bytes the file needs.
    free : int
        Bytes free on the board's filesystem holding ``path`` (after removing the
        partial file).
    """

    def __init__(self, board: str, step: str, path: str, needed: int, free: int) -> None:
        self.path = path
        self.needed = needed
        self.free = free
        super().__init__(
            board,
            step,
            f"no space left on the board for {path}: it needs {needed:,} bytes, "
            f"{free:,} are free there (the partial file was removed)",
        )


class RemoteCommandError(ExecutionError):
    """A command on a board exited non-zero.

    Parameters
    ----------
    board : str
        The board's name.
    command, exit_code, stderr_tail
        As for :class:`ExecutionError` (``exit_code`` is -1 when killed by a signal).
    step : str
        What the command was for.
    """

    def __init__(
        self,
        board: str,
        command: Sequence[str],
        exit_code: int,
        stderr_tail: Sequence[str],
        step: str = "running a command",
    ) -> None:
        self.board = board
        self.step = step
        super().__init__(command, exit_code, stderr_tail, f"on board '{board}' ({step})")

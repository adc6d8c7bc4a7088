"""The docker SDK client, and the one place where its exceptions become kenning errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kenning.executors.errors import (
    DockerUnavailableError,
    ExecutorError,
    ImageNotFoundError,
)
from kenning.utils.errors import MissingDependencyError
from kenning.utils.imports import require

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
#: what to run when an image is missing (``{name}`` is the catalogue name)
BUILD_HINT = "python -m kenning.toolchain build {name}"


def connect(timeout: float = 60.0) -> Any:
    """Return a ``docker.DockerClient`` for the daemon named by the environment.

    Parameters
    ----------
    timeout : float
        Seconds to wait for each API call.

    Returns
    -------
    docker.DockerClient
        A client whose daemon answered a ping.

    Raises
    ------
    DockerUnavailableError
        If the SDK is not installed or no daemon answers.
    """
    try:
        docker = require("docker", "docker")
    except MissingDependencyError as exc:
        raise DockerUnavailableError(
            "the docker SDK is not installed: pip install docker"
        ) from exc
    socket = _unix_socket(os.environ.get("DOCKER_HOST", DEFAULT_SOCKET))
    if socket is not None and not socket.exists():
        # Checked up front: the SDK leaks its socket when the path is missing.
        raise DockerUnavailableError(f"no daemon socket at {socket}")
    with docker_errors():
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    return client


@contextmanager
def session(client: Any = None, timeout: float = 60.0) -> Iterator[Any]:
    """Yield ``client``, or a new client that is closed when the block ends.

    Raises
    ------
    DockerUnavailableError
        If a new client is needed and no daemon answers.
    """
    if client is not None:
        yield client
        return
    own = connect(timeout)
    try:
        yield own
    finally:
        own.close()


def _unix_socket(host: str) -> Path | None:
    return Path(host.removeprefix("unix://")) if host.startswith("unix://") else None


def daemon_available(timeout: float = 5.0) -> bool:
    """Whether a Docker daemon answers (used to choose an executor, not to report failures)."""
    try:
        connect(timeout).close()
    except DockerUnavailableError:
        return False
    return True


@contextmanager
def docker_errors(image: str = "", name: str = "") -> Iterator[None]:
    """Convert docker SDK and transport exceptions raised inside the block.

    Parameters
    ----------
    image : str
        The image reference being used, for messages.
    name : str
        Its catalogue name, for the build hint.

    Raises
    ------
    ImageNotFoundError
        For ``docker.errors.ImageNotFound``.
    DockerUnavailableError
        When the daemon cannot be reached.
    ExecutorError
        For every other docker API error.
    """
    try:
        yield
    except ExecutorError:
        raise
    except Exception as exc:  # classified below; anything else is re-raised as is
        converted = _convert(exc, image, name)
        if converted is None:
            raise
        raise converted from exc


def _convert(exc: Exception, image: str, name: str) -> ExecutorError | None:
    module = type(exc).__module__
    if not module.startswith(("docker", "requests", "urllib3")) and not isinstance(
        exc, ConnectionError
    ):
        return None
    import docker.errors

    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageNotFoundError(image or "(unnamed)", BUILD_HINT.format(name=name or image))
    text = str(exc)
    unreachable = (
        "Connection aborted",
        "Connection refused",
        "No such file or directory",
        "Error while fetching server API version",
        "Max retries exceeded",
    )
    if isinstance(exc, ConnectionError) or any(marker in text for marker in unreachable):
        return DockerUnavailableError(text.splitlines()[0] if text else type(exc).__name__)
    if isinstance(exc, docker.errors.APIError):
        detail = exc.explanation or text
        return ExecutorError(f"Docker refused the request{_for(image)}: {detail}")
    return ExecutorError(f"Docker failed{_for(image)}: {type(exc).__name__}: {text}")


def _for(image: str) -> str:
    return f" for image {image}" if image else ""

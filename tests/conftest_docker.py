"""Fixtures for tests against a real Docker daemon and kenning's images.

Without a daemon (or an image) the docker tests are skipped with the command that fixes it;
with ``KENNING_REQUIRE_DOCKER=1`` (and in CI) they fail instead (tests/capabilities.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from capabilities import missing

from kenning.executors.docker import CONTAINER_LABEL
from kenning.executors.errors import DockerUnavailableError, ImageNotFoundError


def _unavailable(reason: str) -> None:
    missing("docker", reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    from kenning.executors.dockerclient import connect

    try:
        client = connect()
    except DockerUnavailableError as exc:
        _unavailable(f"{exc} (run .ci/setup-docker)")
    yield client
    client.close()


@pytest.fixture
def ours(docker_client: Any) -> Iterator[Callable[[], list[Any]]]:
    """Containers this test process started; the test must leave none behind."""

    def listing() -> list[Any]:
        return list(
            docker_client.containers.list(
                all=True,
                # the executor's own: session-long SSH test boards (value "board") are not
                filters={"label": [f"{CONTAINER_LABEL}=docker", f"org.kenning.pid={os.getpid()}"]},
            )
        )

    yield listing
    leftover = listing()
    for container in leftover:
        container.remove(force=True)
    assert not leftover, f"containers left behind: {[c.short_id for c in leftover]}"


@pytest.fixture(scope="session")
def require_image(docker_client: Any) -> Callable[[str], None]:
    """Skip (or fail under CI) when a catalogue image is not built."""
    from kenning.toolchain.images.info import image_info

    def check(name: str) -> None:
        try:
            image_info(name, docker_client)
        except ImageNotFoundError as exc:
            _unavailable(f"{exc} (or .ci/setup-docker {name})")

    return check

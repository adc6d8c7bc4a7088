"""Executors: where a step runs (this environment, a container, a board).

:func:`select_executor` picks one by name; ``"auto"`` means Docker when a daemon answers,
else this environment.
"""

from __future__ import annotations

from typing import Any

from kenning.executors.base import ExecutionRecord, Executor
from kenning.utils.errors import ConfigurationError

__all__ = ["EXECUTORS", "ExecutionRecord", "Executor", "select_executor"]

#: the names ``--executor`` accepts
EXECUTORS = ("auto", "local", "docker")


def select_executor(kind: str = "auto", **docker_options: Any) -> Executor:
    """Return the executor named ``kind``.

    Parameters
    ----------
    kind : str
        ``"local"``, ``"docker"``, or ``"auto"`` (Docker when a daemon answers, else local).
    **docker_options
        Passed to :class:`~kenning.executors.docker.DockerExecutor` when Docker is chosen.

    Returns
    -------
    Executor
        A ready executor.

    Raises
    ------
    ConfigurationError
        If ``kind`` is not one of :data:`EXECUTORS`.
    DockerUnavailableError
        If ``kind`` is ``"docker"`` and no daemon answers.
    """
    from kenning.executors.dockerclient import daemon_available
    from kenning.executors.local import LocalExecutor

    if kind not in EXECUTORS:
        raise ConfigurationError(f"unknown executor '{kind}'; choose from {', '.join(EXECUTORS)}")
    if kind == "local" or (kind == "auto" and not daemon_available()):
        return LocalExecutor()
    from kenning.executors.docker import DockerExecutor

    return DockerExecutor(**docker_options)

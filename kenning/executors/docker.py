"""Run steps in containers of kenning's images, through the docker SDK.

The working folder is bind-mounted at the same path inside the container, so paths in a
command mean the same on both sides, and the command runs as the caller's uid:gid, so what
it writes belongs to the caller. Output is streamed live; the container is removed
afterwards whatever happens (failure, timeout, Ctrl-C). Inside, ``PYTHONSAFEPATH=1`` keeps
``python -m kenning...`` on the kenning installed in the image even when the working folder
is a kenning checkout.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from kenning.executors.base import ExecutionRecord, Executor, OutputSink, hostname
from kenning.executors.dockerclient import connect, docker_errors
from kenning.executors.errors import ContainerError, ExecutionTimeoutError
from kenning.executors.labels import LABEL_VERSION, provenance_from_labels, resolve
from kenning.utils.errors import ConfigurationError

log = logging.getLogger("kenning.executors.docker")

#: label on every container this executor starts (lets tests and cleanup find them)
CONTAINER_LABEL = "org.kenning.executor"
#: environment every command gets (the user's ``env`` overrides it)
DEFAULT_ENV = {"HOME": "/tmp", "PYTHONUNBUFFERED": "1", "PYTHONSAFEPATH": "1"}
#: seconds the output reader gets to drain after the container exits
DRAIN_S = 10.0


class DockerExecutor(Executor):
    """Run commands in containers.

    Parameters
    ----------
    user : str, optional
        ``uid:gid`` to run as. Default: the caller's; when the caller is root, the owner of
        the working folder (root only if that is root too).
    network : str
        Docker network mode; ``"none"`` (default) keeps steps offline.
    mounts : mapping of Path to str, optional
        Extra host paths and where they appear (``"/path"`` or ``"/path:ro"``).
    client : docker.DockerClient, optional
        A connected client (default: one from the environment).

    Raises
    ------
    DockerUnavailableError
        If no daemon answers.
    """

    name: ClassVar[str] = "docker"

    def __init__(
        self,
        *,
        user: str | None = None,
        network: str = "none",
        mounts: Mapping[Path, str] | None = None,
        client: Any = None,
    ) -> None:
        self.user = user
        self.network = network
        self.mounts = dict(mounts or {})
        self._owns_client = client is None
        self.client = client or connect()

    def close(self) -> None:
        """Close the connection to the daemon if this executor opened it."""
        if self._owns_client:
            self.client.close()

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
        if not image:
            raise ConfigurationError("the docker executor needs an image for every step")
        reference = resolve(image)
        cwd = Path(workdir or Path.cwd()).resolve()
        if not cwd.is_dir():  # Docker would create it, owned by root
            raise ConfigurationError(f"working folder {cwd} does not exist")
        with docker_errors(reference, image):
            found = self.client.images.get(reference)
        out = OutputSink(stdout or sys.stdout)
        err = OutputSink(stderr or sys.stderr)
        started_at = datetime.now(UTC)
        start = time.monotonic()
        code = self._run_container(found.id, reference, list(command), cwd, env, timeout, out, err)
        labels = found.attrs.get("Config", {}).get("Labels") or {}
        record = ExecutionRecord(
            executor=self.name,
            environment=image,
            image=reference,
            image_id=found.id,
            repo_digests=list(found.attrs.get("RepoDigests") or []),
            **{
                **provenance_from_labels(labels),
                "kenning_version": labels.get(LABEL_VERSION, "unknown"),
            },
            command=list(command),
            workdir=str(cwd),
            host=hostname(),
            platform=f"{found.attrs.get('Os', 'linux')}/{found.attrs.get('Architecture', '?')}",
            exit_code=code,
            started_at=started_at,
            duration_s=time.monotonic() - start,
        )
        if check and code != 0:
            raise ContainerError(reference, command, code, err.lines()).with_record(record)
        return record

    def _run_container(
        self,
        image_id: str,
        reference: str,
        command: list[str],
        cwd: Path,
        env: Mapping[str, str] | None,
        timeout: float | None,
        out: OutputSink,
        err: OutputSink,
    ) -> int:
        volumes = {str(cwd): {"bind": str(cwd), "mode": "rw"}}
        for host_path, target in self.mounts.items():
            bind, _, mode = target.partition(":")
            volumes[str(Path(host_path).resolve())] = {"bind": bind, "mode": mode or "rw"}
        container = stream = reader = None
        try:
            with docker_errors(reference):
                container = self.client.containers.create(
                    image_id,  # the ID, so the record names exactly what ran
                    command,
                    user=self.user or _default_user(cwd),
                    working_dir=str(cwd),
                    environment={**DEFAULT_ENV, **(env or {})},
                    volumes=volumes,
                    network_mode=self.network,
                    labels={CONTAINER_LABEL: self.name, "org.kenning.pid": str(os.getpid())},
                    init=True,
                )
                stream = self.client.api.attach(
                    container.id, stdout=True, stderr=True, stream=True, logs=True, demux=True
                )
                reader = threading.Thread(target=_pump, args=(stream, out, err), daemon=True)
                reader.start()
                container.start()
                code = self._wait(container, reference, command, timeout, err)
            reader.join(timeout=DRAIN_S)  # all output is read before the container goes
            return code
        finally:
            # Removing the container ends the attach stream, so the reader drains and stops.
            if container is not None:
                _remove(container)
            if reader is not None:
                reader.join(timeout=DRAIN_S)
            if stream is not None:
                _close(stream)

    def _wait(
        self,
        container: Any,
        reference: str,
        command: list[str],
        timeout: float | None,
        err: OutputSink,
    ) -> int:
        import requests

        try:
            result = container.wait(timeout=timeout)
        except requests.exceptions.RequestException as exc:
            if timeout is None or not _is_timeout(exc):
                raise
            raise ExecutionTimeoutError(
                command, timeout, err.lines(), f"in image {reference}"
            ) from exc
        return int(result.get("StatusCode", -1))


def _pump(stream: Any, out: OutputSink, err: OutputSink) -> None:
    try:
        for stdout_chunk, stderr_chunk in stream:
            if stdout_chunk:
                out.write(stdout_chunk)
            if stderr_chunk:
                err.write(stderr_chunk)
    except (OSError, ValueError):
        pass  # the stream was closed under us (the step is being abandoned)


def _close(stream: Any) -> None:
    """Close an attach stream and the HTTP response under it (the SDK closes only the socket)."""
    try:
        stream.close()
    except OSError:
        pass
    response = getattr(stream, "_response", None)
    if response is not None:
        response.close()


def _is_timeout(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.exceptions.Timeout):
        return True
    return "timed out" in str(exc).lower()


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the original error
        log.warning("could not remove container %s: %s", container.short_id, exc)


def _default_user(cwd: Path) -> str:
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        stat = cwd.stat()
        uid, gid = stat.st_uid, stat.st_gid
    return f"{uid}:{gid}"

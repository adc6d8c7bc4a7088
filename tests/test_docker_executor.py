"""The Docker executor against a real daemon and kenning's real images."""

# ruff: noqa: F811 - pytest fixtures imported from conftest_docker are redefined as arguments
from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DIGITS, TORCH_CNN
from conftest_docker import docker_client, ours, require_image  # noqa: F401 - fixtures

from kenning.executors import select_executor
from kenning.executors.docker import DockerExecutor
from kenning.executors.errors import (
    ContainerError,
    DockerUnavailableError,
    ExecutionTimeoutError,
    ImageNotFoundError,
)
from kenning.executors.local import LocalExecutor
from kenning.toolchain.images.info import image_info
from kenning.utils.errors import ConfigurationError

pytestmark = pytest.mark.docker


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder owned by a non-root user when the tests run as root (as in CI)."""
    folder = tmp_path / "work"
    folder.mkdir()
    if os.getuid() == 0:
        os.chown(folder, 4321, 4321)
    return folder


def test_runs_a_kenning_scenario_in_its_image(
    docker_client: Any, require_image: Callable[[str], None], ours: Callable[[], list[Any]]
) -> None:
    require_image("train-torch")
    out = io.StringIO()
    record = DockerExecutor(client=docker_client).run(
        ["python", "-m", "kenning.scenarios.model_training", TORCH_CNN, DIGITS, "-h"],
        image="train-torch",
        workdir=Path.cwd(),
        stdout=out,
    )
    assert "--num-epochs" in out.getvalue()
    info = image_info("train-torch", docker_client)
    assert record.exit_code == 0
    assert record.executor == "docker" and record.environment == "train-torch"
    assert record.image == "kenning/train-torch:latest" and record.image_id == info.image_id
    assert record.lock_sha256 == info.lock_sha256 and "requirements.lock" in record.lock_sha256
    assert record.platform == "linux/amd64" and record.kenning_version == info.kenning_version
    assert record.git_commit == info.git_commit
    assert not ours(), "the container is removed after a success"


def test_training_writes_files_owned_by_the_caller(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("train-torch")
    out = io.StringIO()
    DockerExecutor(client=docker_client).run(
        [
            "python", "-m", "kenning.scenarios.model_training", TORCH_CNN, DIGITS,
            "--model-path", "models/digits.pth", "--num-epochs", "1",
        ],
        image="train-torch",
        workdir=workdir,
        stdout=out,
        stderr=io.StringIO(),
    )  # fmt: skip
    model = workdir / "models" / "digits.pth"
    assert model.stat().st_size > 1000
    assert '"model_path": "models/digits.pth"' in out.getvalue()
    owner = workdir.stat()
    for path in (model, model.parent):
        assert (path.stat().st_uid, path.stat().st_gid) == (owner.st_uid, owner.st_gid)
    if os.getuid() != 0:
        assert model.stat().st_uid == os.getuid()


def test_failure_raises_container_error_and_removes_the_container(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("train-torch")
    script = (
        "import sys; print('some output'); print('model exploded', file=sys.stderr); sys.exit(3)"
    )
    with pytest.raises(ContainerError) as caught:
        DockerExecutor(client=docker_client).run(
            ["python", "-c", script],
            image="train-torch",
            workdir=workdir,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    error = caught.value
    assert error.exit_code == 3 and error.image == "kenning/train-torch:latest"
    assert error.stderr_tail == ["model exploded"]
    assert "status 3" in str(error) and "model exploded" in str(error)
    assert "kenning/train-torch:latest" in str(error) and "python -c" in str(error)
    assert not ours()


def test_check_false_returns_the_exit_code(
    docker_client: Any, require_image: Callable[[str], None], ours: Callable[[], list[Any]]
) -> None:
    require_image("target-amd64")
    record = DockerExecutor(client=docker_client).run(
        ["sh", "-c", "exit 7"], image="target-amd64", check=False
    )
    assert record.exit_code == 7
    assert not ours()


def test_timeout_stops_and_removes_the_container(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("target-amd64")
    start = time.monotonic()
    with pytest.raises(ExecutionTimeoutError) as caught:
        DockerExecutor(client=docker_client).run(
            ["sh", "-c", "echo started >&2; sleep 60"],
            image="target-amd64",
            workdir=workdir,
            timeout=3,
            stderr=io.StringIO(),
        )
    assert time.monotonic() - start < 30
    assert caught.value.stderr_tail == ["started"]
    assert not ours()


def test_ctrl_c_removes_the_container(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("target-amd64")
    seen: list[int] = []

    def interrupt_when_running() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen[:] = [sum(c.status == "running" for c in ours())]
            if seen[0]:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        DockerExecutor(client=docker_client).run(
            ["sleep", "60"], image="target-amd64", workdir=workdir
        )
    assert seen == [1], "the container was running when Ctrl-C came"
    assert not ours()


def test_missing_image_says_how_to_build_it(docker_client: Any) -> None:
    with pytest.raises(ImageNotFoundError, match=r"build it with: python -m kenning\.toolchain"):
        DockerExecutor(client=docker_client).run(["true"], image="kenning/no-such-image:latest")


def test_missing_working_folder_is_refused_not_created(
    docker_client: Any, require_image: Callable[[str], None], tmp_path: Path
) -> None:
    require_image("target-amd64")
    with pytest.raises(ConfigurationError, match="does not exist"):
        DockerExecutor(client=docker_client).run(
            ["true"], image="target-amd64", workdir=tmp_path / "missing"
        )
    assert not (tmp_path / "missing").exists()


def test_auto_selects_docker_when_a_daemon_answers(docker_client: Any) -> None:
    with select_executor("auto") as executor:
        assert isinstance(executor, DockerExecutor)
    with select_executor("local") as executor:
        assert isinstance(executor, LocalExecutor)


def test_without_a_daemon_auto_is_local_and_docker_says_what_to_run(
    docker_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-daemon.sock'}")
    with select_executor("auto") as executor:
        assert isinstance(executor, LocalExecutor)
    with pytest.raises(DockerUnavailableError, match=r"\.ci/setup-docker"):
        select_executor("docker")


def test_target_image_is_runtime_only_and_serves(
    docker_client: Any, require_image: Callable[[str], None], ours: Callable[[], list[Any]]
) -> None:
    require_image("target-amd64")
    probe = (
        "import importlib.util as u, os, tvm, onnxruntime, ai_edge_litert.interpreter\n"
        "frameworks = ('tensorflow', 'torch', 'keras', 'sklearn', 'mxnet', 'jax')\n"
        "print('frameworks', [m for m in frameworks if u.find_spec(m)])\n"
        "lib = os.path.join(os.path.dirname(tvm.__file__), 'lib')\n"
        "print('tvm', sorted(f for f in os.listdir(lib) if 'compiler' in f))\n"
        "print('server', u.find_spec('kenning.scenarios.inference_server') is not None)\n"
    )
    out = io.StringIO()
    executor = DockerExecutor(client=docker_client)
    executor.run(["python", "-c", probe], image="target-amd64", stdout=out, stderr=io.StringIO())
    lines = dict(line.split(" ", 1) for line in out.getvalue().splitlines())
    assert lines["frameworks"] == "[]"
    assert lines["tvm"] == "[]", "only TVM's runtime library is in the target image"
    assert lines["server"] == "True", "stale image: python -m kenning.toolchain build target-amd64"
    help_out = io.StringIO()
    executor.run(
        ["python", "-m", "kenning.scenarios.inference_server", "-h"],
        image="target-amd64",
        stdout=help_out,
    )
    assert "usage" in help_out.getvalue()

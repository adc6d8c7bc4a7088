"""The local executor (real subprocesses) and the toolchain's Docker-free parts."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

import kenning
from kenning.executors import EXECUTORS, ExecutionRecord, select_executor
from kenning.executors.errors import CommandError, ExecutionTimeoutError, ExecutorError
from kenning.executors.local import LocalExecutor
from kenning.toolchain.images.base import DEFAULT_SOURCES, debian_sources
from kenning.toolchain.images.build import _count_steps, _write_context, find_local_wheels
from kenning.toolchain.images.catalogue import CATALOGUE, spec
from kenning.utils.provenance import work_tree


def test_runs_python_of_this_environment_and_records_it(tmp_path: Path) -> None:
    out = io.StringIO()
    record = LocalExecutor().run(
        ["python", "-c", "import sys, os; print(sys.executable); print(os.getcwd())"],
        image="compile-tvm",
        workdir=tmp_path,
        stdout=out,
    )
    assert out.getvalue().splitlines() == [sys.executable, str(tmp_path.resolve())]
    assert record.exit_code == 0 and record.executor == "local"
    assert record.environment == "compile-tvm" and record.image is None
    assert record.command[0] == sys.executable and record.kenning_version == kenning.__version__
    assert record.workdir == str(tmp_path.resolve()) and record.duration_s > 0
    again = ExecutionRecord.model_validate_json(record.model_dump_json())
    assert again == record


def test_failure_carries_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    script = "import sys\nfor i in range(50): print('line', i, file=sys.stderr)\nsys.exit(4)"
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        LocalExecutor().run(["python", "-c", script], workdir=tmp_path, stderr=err)
    assert caught.value.exit_code == 4
    assert caught.value.stderr_tail[-1] == "line 49" and len(caught.value.stderr_tail) == 20
    assert "line 0" in err.getvalue(), "everything was streamed, only the tail is kept"
    assert "status 4" in str(caught.value)


def test_check_false_returns_the_record(tmp_path: Path) -> None:
    record = LocalExecutor().run(["sh", "-c", "exit 5"], workdir=tmp_path, check=False)
    assert record.exit_code == 5


def test_timeout_stops_the_process(tmp_path: Path) -> None:
    with pytest.raises(ExecutionTimeoutError) as caught:
        LocalExecutor().run(
            ["sh", "-c", "echo waiting >&2; exec sleep 30"],
            workdir=tmp_path,
            timeout=1,
            stderr=io.StringIO(),
        )
    assert caught.value.stderr_tail == ["waiting"]


def test_missing_program_is_an_executor_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="cannot start"):
        LocalExecutor().run(["no-such-program-kenning"], workdir=tmp_path)


def test_unknown_executor_name_is_rejected() -> None:
    with pytest.raises(kenning.utils.errors.ConfigurationError, match="auto, local, docker"):
        select_executor("podman")
    assert EXECUTORS == ("auto", "local", "docker")


def test_debian_sources_keep_only_bookworm(tmp_path: Path) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: https://packages.example/apt\n"
        "Suites: stable\nComponents: main\n"
    )
    assert debian_sources(sources) == [
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
    ]
    assert debian_sources(tmp_path / "missing") == list(DEFAULT_SOURCES)


def test_build_context_holds_what_the_dockerfile_copies(tmp_path: Path) -> None:
    wheel = tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"not really a wheel")
    image = spec("train-torch")
    assert find_local_wheels(image, [tmp_path]) == [wheel]
    with tempfile.TemporaryFile() as context:
        digest = _write_context(context, image, work_tree(), False, [wheel])
        context.seek(0)
        with tarfile.open(fileobj=context) as tar:
            names = set(tar.getnames())
    assert {"pyproject.toml", "README.md", "kenning/__init__.py"} <= names
    assert {"images/train-torch/Dockerfile", "images/train-torch/requirements.lock"} <= names
    assert f"images/train-torch/wheels/{wheel.name}" in names
    assert "images/certs/README.md" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("images/base/", "tests/", ".venv/")) for n in names)
    assert len(digest) == 64


def test_step_count_matches_the_dockerfiles() -> None:
    for name in CATALOGUE:
        steps = _count_steps(work_tree() / "images" / name / "Dockerfile")
        fewest = 8 if CATALOGUE[name].parent else 15  # the boards only add to a built image
        assert steps is not None and fewest <= steps <= 30


def test_local_wheel_dirs_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kenning.toolchain.images.build import default_wheel_dirs

    monkeypatch.setenv("KENNING_WHEEL_DIRS", f"{tmp_path}{os.pathsep}/no/such/dir")
    assert default_wheel_dirs() == [tmp_path]
    monkeypatch.delenv("KENNING_WHEEL_DIRS")
    monkeypatch.setenv("PIP_FIND_LINKS", f"https://example.org/wheels {tmp_path}")
    assert default_wheel_dirs() == [tmp_path]

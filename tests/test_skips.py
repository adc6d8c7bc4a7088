"""The skip rule of tests/conftest.py: a failure where required, grouped by capability elsewhere.

Each case runs a small pytest session in a subprocess whose conftest takes the hooks from this
suite's, so what is checked is exactly what CI runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

CONFTEST = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from capabilities import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401
"""
TESTS = """
import pytest
from capabilities import missing, requires

def test_needs_docker():
    missing("docker", "no daemon here")

@requires("mxnet", False, "no MXNet venv here")
def test_needs_mxnet():
    pass

def test_plain_skip():
    pytest.skip("no reason given")

def test_runs():
    pass
"""
_CLEAN = ("CI", "KENNING_NO_SKIPS", "KENNING_REQUIRE_DOCKER", "KENNING_REQUIRE_SSH")


def _session(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_inner.py").write_text(TESTS)
    clean = {k: v for k, v in os.environ.items() if k not in _CLEAN}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**clean, **env},
    )  # fmt: skip


def test_outside_ci_skips_are_grouped_by_what_is_missing(tmp_path: Path) -> None:
    done = _session(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 3 skipped" in done.stdout
    assert "skipped, by what is missing" in done.stdout
    assert "docker: 1 tests (Docker engine and kenning's images; provide: bash .ci/setup-docker)" \
        in done.stdout  # fmt: skip
    assert "mxnet: 1 tests" in done.stdout and "other: 1 tests" in done.stdout


@pytest.mark.parametrize("env", [{"CI": "true"}, {"KENNING_NO_SKIPS": "1"}])
def test_in_ci_every_skip_fails_and_names_the_test(tmp_path: Path, env: dict[str, str]) -> None:
    done = _session(tmp_path, **env)
    assert done.returncode == 1
    # a skip mark acts at set-up, so it fails there (an error); a skip in the body fails
    assert "2 failed, 1 passed, 1 error" in done.stdout
    for name in ("test_needs_docker", "test_plain_skip"):
        assert f"FAILED test_inner.py::{name}" in done.stdout
    assert "ERROR test_inner.py::test_needs_mxnet" in done.stdout
    assert "skipped where it must run" in done.stdout


def test_require_docker_fails_only_the_docker_tests(tmp_path: Path) -> None:
    done = _session(tmp_path, KENNING_REQUIRE_DOCKER="1")
    assert done.returncode == 1
    assert "1 failed, 1 passed, 2 skipped" in done.stdout
    assert "FAILED test_inner.py::test_needs_docker" in done.stdout
    assert "provide it with: bash .ci/setup-docker" in done.stdout


def test_an_allowlisted_skip_says_why_even_in_ci() -> None:
    from capabilities import ALLOWED_SKIPS

    for node, why in ALLOWED_SKIPS.items():
        path, _, name = node.partition("::")
        assert (ROOT / path).is_file() and f"def {name}(" in (ROOT / path).read_text(), node
        assert len(why) > 40, f"{node}: say why it may skip"

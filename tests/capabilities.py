"""What a test may need from the machine, and the one rule for when it is missing.

A test that cannot run here calls :func:`missing` (a skip whose reason starts ``[capability]``).
The hooks below (imported by ``tests/conftest.py``) do the rest: where the capability is required
(``KENNING_REQUIRE_DOCKER=1``, ``KENNING_REQUIRE_SSH=1``, or every capability under
``KENNING_NO_SKIPS=1`` / ``CI=true``) the skip becomes a failure, unless the test is on
:data:`ALLOWED_SKIPS`; elsewhere the summary groups the skips by capability with the command
that provides it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

#: capability -> (what it is, the command that provides it)
CAPABILITIES: dict[str, tuple[str, str]] = {
    "docker": ("Docker engine and kenning's images", "bash .ci/setup-docker"),
    "sshd": (
        "OpenSSH server and the SSH test boards",
        "bash .ci/install-system-packages && bash .ci/setup-docker",
    ),
    "registry": ("Debian's docker-registry", "bash .ci/install-system-packages"),
    "labgrid": ("labgrid's coordinator, exporter and client (kenning[farm])", "make install"),
    "mxnet": ("MXNet's virtual environment", "make install"),
    "converters": ("the ONNX import converters", "make install"),
    "aarch64-gcc": ("the aarch64 cross compiler", "bash .ci/install-system-packages"),
    "chromium": ("Debian's chromium", "bash .ci/install-system-packages"),
    "mcu": (
        "the Arm cross compiler and QEMU (gcc-arm-none-eabi, qemu-system-arm)",
        "bash .ci/install-system-packages",
    ),
    "root": ("root (mount a tmpfs, create /run/sshd)", "run the tests as root, as CI does"),
    "apt": ("a Debian machine with apt-cache", "run on Debian (apt-get update)"),
}

#: tests allowed to skip even in CI, by node ID, with the reviewed reason
ALLOWED_SKIPS: dict[str, str] = {
    "tests/test_compilers_tflite.py::test_edgetpu_without_compiler": (
        "checks the error printed when edgetpu_compiler is missing; where it is installed "
        "there is nothing to check"
    ),
}

_TAG = re.compile(r"^\[([a-z0-9-]+)\] ")


def missing(capability: str, detail: str) -> NoReturn:
    """Skip the calling test because ``capability`` is missing here (CI makes it a failure).

    Parameters
    ----------
    capability : str
        A key of :data:`CAPABILITIES`.
    detail : str
        What exactly was not found.
    """
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; add it to CAPABILITIES")
    pytest.skip(f"[{capability}] {detail}")


def requires(capability: str, present: bool, detail: str) -> pytest.MarkDecorator:
    """A mark that skips (CI: fails) the tests it marks unless ``present``; see :func:`missing`."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; add it to CAPABILITIES")
    return pytest.mark.skipif(not present, reason=f"[{capability}] {detail}")


def capability_of(reason: str) -> str:
    """The capability a skip reason names (``other`` for a skip that names none)."""
    found = _TAG.match(reason.removeprefix("Skipped: "))
    return found.group(1) if found else "other"


def required() -> set[str]:
    """The capabilities whose absence fails a test in this run."""
    if os.environ.get("KENNING_NO_SKIPS") == "1" or os.environ.get("CI") == "true":
        return {*CAPABILITIES, "other"}
    wanted = set()
    if os.environ.get("KENNING_REQUIRE_DOCKER") == "1":
        wanted |= {"docker", "registry"}
    if os.environ.get("KENNING_REQUIRE_SSH") == "1":
        wanted |= {"sshd"}
    return wanted


# ---- the hooks ----


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Turn a skip into a failure when what it lacks is required here (CI: everything)."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    allowed = ALLOWED_SKIPS.get(item.nodeid)
    if allowed:
        report.longrepr = (str(item.path), item.location[1] or 0, f"allowed skip: {allowed}")
        return
    capability = capability_of(reason)
    if capability in required():
        report.outcome = "failed"
        report.longrepr = (
            f"skipped where it must run ({_requirement(capability)}): {reason}\n"
            f"provide it with: {CAPABILITIES.get(capability, ('', 'see tests/README.md'))[1]}"
        )


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _requirement(capability: str) -> str:
    if os.environ.get("KENNING_NO_SKIPS") == "1" or os.environ.get("CI") == "true":
        return "CI: no skips outside tests/capabilities.py ALLOWED_SKIPS"
    return f"{capability} is required by KENNING_REQUIRE_*"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Group the skips by what is missing, with the command that provides it."""
    groups: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if not hasattr(report, "wasxfail"):
            capability = capability_of(_skip_reason(report))
            groups[capability] = groups.get(capability, 0) + 1
    if not groups:
        return
    terminalreporter.section("skipped, by what is missing")
    for capability, count in sorted(groups.items(), key=lambda kv: -kv[1]):
        what, how = CAPABILITIES.get(capability, ("no capability named", "see the reasons above"))
        terminalreporter.write_line(f"{capability}: {count} tests ({what}; provide: {how})")

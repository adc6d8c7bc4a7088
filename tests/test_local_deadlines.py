"""Local waits are bounded: a step past its deadline, and mmdebstrap, are stopped in time.

Real subprocesses (``sleep``), no mocks; each error must say what was awaited, where and for
how long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kenning.executors.errors import (
    ExecutionCancelledError,
    ExecutionError,
    ExecutionTimeoutError,
    ImageBuildError,
)
from kenning.executors.local import LocalExecutor
from kenning.toolchain.images.base import _run_mmdebstrap
from kenning.toolchain.run.steps import Step, StepTimeoutError

#: seconds a stopped wait may overrun its deadline (SIGINT, then a loaded machine)
MARGIN_S = 4.0


@pytest.fixture
def quiet() -> Iterator[None]:
    """Steps write their logs (``--verbosity DEBUG`` would send everything to the screen)."""
    logger = logging.getLogger("kenning")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return not any(line.startswith("State:") and "Z" in line for line in status.splitlines())


def test_a_step_past_its_deadline_is_stopped_naming_the_step_and_its_log(
    tmp_path: Path, quiet: None
) -> None:
    log = tmp_path / "logs" / "napping.log"
    log.parent.mkdir()
    script = f"echo $$ > {tmp_path}/pid; echo dozing off >&2; exec sleep 30"
    step = Step("napping", "", ["sh", "-c", script])
    started = time.monotonic()
    with pytest.raises(StepTimeoutError) as caught:
        step.run(LocalExecutor(), workdir=tmp_path, log=log, timeout=1.0)
    assert time.monotonic() - started < 1.0 + MARGIN_S
    error = caught.value
    assert isinstance(error, ExecutionTimeoutError)  # what callers catch already
    assert (error.step, error.log, error.timeout_s) == ("napping", log, 1.0)
    assert str(error).startswith(
        f"step 'napping': `sh -c {script}` run locally gave no exit status within 1 s and was "
        f"stopped; its log: {log}; last stderr lines:\n    dozing off"
    )
    assert "dozing off" in log.read_text()
    assert not running(int((tmp_path / "pid").read_text()))


def test_a_step_within_its_deadline_is_unchanged(tmp_path: Path, quiet: None) -> None:
    record = Step("quick", "", ["sh", "-c", "exit 0"]).run(LocalExecutor(), workdir=tmp_path,
                                                           timeout=30)  # fmt: skip
    assert record.exit_code == 0 and record.template == ["sh", "-c", "exit 0"]
    with pytest.raises(ExecutionError) as caught:
        Step("failing", "", ["sh", "-c", "exit 3"]).run(LocalExecutor(), workdir=tmp_path)
    assert not isinstance(caught.value, StepTimeoutError) and caught.value.exit_code == 3


def test_a_step_called_off_is_stopped_at_once_and_says_why(tmp_path: Path, quiet: None) -> None:
    # a farm board lost mid-run: the benchmark on it stops as soon as the loss is known
    saves = "trap 'kill $!; echo saved >&2; exit 130' INT"  # as the tester saves its samples
    script = f"echo $$ > {tmp_path}/pid; {saves}; sleep 30 & wait"
    lost_at = time.monotonic() + 0.5
    executor = LocalExecutor(
        cancel=lambda: "place p1 was lost" if time.monotonic() > lost_at else None
    )
    with pytest.raises(ExecutionCancelledError) as caught:
        Step("benchmark", "", ["sh", "-c", script]).run(executor, workdir=tmp_path, timeout=60)
    assert time.monotonic() - lost_at < 1.0 + MARGIN_S
    assert caught.value.reason == "place p1 was lost"
    assert "was stopped: place p1 was lost" in str(caught.value)
    assert caught.value.stderr_tail == ["saved"]  # Ctrl-C first: the step saves what it has
    assert not running(int((tmp_path / "pid").read_text()))


def test_mmdebstrap_past_its_deadline_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    # the background sleep keeps stderr open: only stopping the whole group ends the read
    script = f"echo fetching >&2; sleep 30 & echo $! > {tmp_path}/child; wait"
    started = time.monotonic()
    with pytest.raises(ImageBuildError) as caught:
        _run_mmdebstrap("kenning/base-test", ["sh", "-c", script], False, timeout=1.0)
    assert time.monotonic() - started < 1.0 + MARGIN_S
    message = str(caught.value)
    assert "building kenning/base-test failed" in message
    assert "mmdebstrap gave no exit status within 1 s and was stopped" in message
    assert caught.value.log_tail == ["fetching"]
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child)

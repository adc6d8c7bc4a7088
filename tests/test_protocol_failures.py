"""A server killed or frozen mid-run: the tester fails fast, names the sample, keeps the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DIGITS, TORCH_CNN
from conftest_protocol import ROOT, ServerProcess, server_process

from kenning.core.results import load_results

TIMEOUT = 3.0


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A null-runtime server whose inferences take 20 ms, so a run lasts about 9 s."""
    args = [
        "network",
        "null",
        "--save-model-path",
        tmp_path / "target" / "m.onnx",
        "--port",
        "0",
        "--inference-time",
        "0.02",
    ]
    with server_process(args) as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_tester_fails_fast_naming_the_sample_and_keeps_finished_ones(
    torch_digits_model: Path, slow_server: ServerProcess, tmp_path: Path, how: str
) -> None:
    out = tmp_path / "partial.json"
    args = [
        "kenning.scenarios.inference_tester",
        TORCH_CNN,
        "onnx",
        "onnxruntime",
        DIGITS,
        out,
        "--model-path",
        torch_digits_model,
        "--compiled-model-path",
        tmp_path / "m.onnx",
        "--protocol-cls",
        "network",
        "--port",
        slow_server.port,
        "--timeout",
        TIMEOUT,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    tester = subprocess.Popen(
        [sys.executable, "-m", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        slow_server.wait_for("model of", timeout=120)
        time.sleep(1.5)  # about 70 samples at 20 ms each
        slow_server.proc.send_signal(signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        stopped = time.monotonic()
        _, stderr = tester.communicate(timeout=TIMEOUT + 30)
        elapsed = time.monotonic() - stopped
    finally:
        if tester.poll() is None:
            tester.kill()
            tester.wait()
        if how == "frozen":
            slow_server.proc.send_signal(signal.SIGCONT)
    assert tester.returncode == 2, stderr
    assert elapsed < TIMEOUT + 5
    error = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "inference failed on sample " in error[0], stderr
    failed_index = int(error[0].split("inference failed on sample ")[1].split(":")[0])
    if how == "frozen":
        assert f"no answer from the peer for {TIMEOUT:g} s" in error[0]
    results = load_results(out)
    assert results.status == "partial"
    assert results.error is not None and f"sample {failed_index}" in results.error
    assert 10 <= len(results.samples) < 450
    assert failed_index not in {s.index for s in results.samples}
    assert all(0.02 <= s.inference_s < 0.03 for s in results.samples)  # busy 20 ms on target

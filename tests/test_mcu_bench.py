"""The digits CNN benchmarked on both emulated boards by the real host, judged and reported.

The model is trained, exported and compiled with ``onnx-c --target BOARD`` (its firmware built
for the board); ``inference_tester`` benches the firmware over the board's UART exactly as it
benches a Linux board. The run must be VALID for what was checked (complete, warmed up,
enough calls, and a bare-metal target with no other load: the verdict says so), its outputs
must match ONNX Runtime, the target's footprint and stack high-water mark must be recorded,
and the report must show them with the emulated-time caveat.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcuboards import digits_onnx_file, need_toolchain, started

from kenning.compilers.onnxc import ONNXToCCompiler
from kenning.core.iospec import IOSpec
from kenning.core.results import load_results
from kenning.toolchain.run.bench import outputs_agreement

pytestmark = pytest.mark.slow
MEASURE = ["--min-samples", "200", "--warmup", "5", "--min-duration", "0"]


@pytest.fixture(scope="module")
def digits_onnx(torch_digits_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return digits_onnx_file(torch_digits_model, tmp_path_factory.mktemp("onnx") / "digits.onnx")


# one board here: test_mcu_server speaks to both, test_mcu_toolchain benches on both
@pytest.mark.parametrize("board", ["mps2-an386"])
def test_the_digits_cnn_benched_on_an_emulated_board(
    board: str, digits_onnx: Path, torch_digits_model: Path, tmp_path: Path
) -> None:
    need_toolchain()

    folder = tmp_path / "digits.onnx-c"
    ONNXToCCompiler(None, folder, target=board).compile(digits_onnx, IOSpec.load(digits_onnx))
    out = tmp_path / "results.json"
    with started(folder / "firmware.elf", board, tmp_path / "run") as (running, secret_file):
        command = [
            sys.executable, "-m", "kenning.scenarios.inference_tester", "torch-digits-cnn",
            "precompiled", "onnx-c", "digits", str(out), "--protocol-cls", "serial",
            "--port", running.line, "--secret-file", str(secret_file),
            "--model-path", str(torch_digits_model), "--compiled-model-path", str(folder),
            *MEASURE,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("VALID"), done.stdout
    results = load_results(out)
    assert any("bare-metal target" in line for line in results.verdict.checks)
    target = results.measurements["target"]
    assert target["firmware_model"] is True and target["board"] == board
    assert target["sha256"] == results.model.sha256
    summary = json.loads((folder / "model.json").read_text())
    assert target["flash_bytes"] >= summary["weights_bytes"]
    # the deepest the stack went is the model's temporaries and the server's own frames
    assert summary["activations_bytes"] <= target["stack_high_water_bytes"] < target["stack_bytes"]
    # agreement with the PyTorch reference, as for every deployment
    reference = tmp_path / "reference.json"
    subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.inference_performance", "torch-digits-cnn",
         "digits", str(reference), "--model-path", str(torch_digits_model), *MEASURE],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    agreement = outputs_agreement(out, reference, {})
    assert agreement is not None and agreement.agrees, agreement
    assert agreement.samples >= 200 and agreement.max_abs_error < 1e-4

    report = tmp_path / "report.md"
    subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.render_report", str(out), str(out),
         "Digits on a microcontroller", str(report), "--format", "md"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    text = report.read_text()
    assert "Footprint on microcontrollers" in text and "not silicon time" in text

"""Compilers and runtimes through ``inference_tester`` in host-only mode (short names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_kenning


def _results(path: Path) -> dict:
    data = json.loads(path.read_text())
    assert data["status"] == "complete"
    # the run loops over the data until 1000 samples and 1 s at least: each of the 450 measured
    assert data["dataset"]["num_samples"] == len({s["index"] for s in data["samples"]}) == 450
    assert len(data["samples"]) >= 1000
    assert len(data["samples"]) % data["dataset"]["batch_size"] == 0  # whole calls
    return data


@pytest.mark.slow
@pytest.mark.parametrize(
    ("wrapper", "compiler", "runtime", "extra"),
    [
        (
            "tf-digits-cnn",
            "tflite",
            "tflite",
            [
                "--target",
                "int8",
                "--inference-input-type",
                "int8",
                "--inference-output-type",
                "int8",
                "--calibration-samples",
                "50",
            ],
        ),
        ("torch-digits-cnn", "tvm", "tvm", ["--target", "llvm", "--inference-batch-size", "8"]),
        ("torch-digits-cnn", "onnxruntime-quant", "onnxruntime", ["--calibration-samples", "50"]),
        ("torch-digits-cnn", "pytorch", "pytorch", []),
    ],
)
def test_host_only_run(wrapper, compiler, runtime, extra, request, tmp_path) -> None:
    fixture = "tf_digits_model" if wrapper.startswith("tf") else "torch_digits_model"
    model_path = request.getfixturevalue(fixture)
    suffix = {"tflite": ".tflite", "tvm": ".so", "pytorch": ".pt2"}.get(compiler, ".onnx")
    out = tmp_path / "results.json"
    done = run_kenning(
        [
            "kenning.scenarios.inference_tester",
            wrapper,
            compiler,
            runtime,
            "digits",
            out,
            "--model-path",
            model_path,
            "--compiled-model-path",
            tmp_path / f"model{suffix}",
            "--verbosity",
            "WARNING",
            *extra,
        ]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = _results(out)
    assert data["metrics"]["accuracy"] > 0.9
    roles = {f["role"]: f["name"] for f in data["frameworks"]}
    assert set(roles) >= {"model", "compiler", "runtime"}


@pytest.mark.parametrize(
    ("compiler", "extra", "message"),
    [
        ("tvm", ["--target", "riscv"], "error: --target 'riscv' is unknown"),
        ("tflite", ["--target", "riscv"], "--target: invalid choice: 'riscv'"),
    ],
)
def test_bad_target_is_one_line(compiler, extra, message, tf_digits_model, tmp_path) -> None:
    done = run_kenning(
        [
            "kenning.scenarios.inference_tester",
            "tf-digits-cnn",
            compiler,
            compiler,
            "digits",
            tmp_path / "r.json",
            "--model-path",
            tf_digits_model,
            "--compiled-model-path",
            tmp_path / "m.bin",
            *extra,
        ]
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_not_a_model_file(tmp_path) -> None:
    bogus = tmp_path / "digits.keras"
    bogus.write_text("this is not a model")
    done = run_kenning(
        [
            "kenning.scenarios.inference_tester",
            "tf-digits-cnn",
            "tflite",
            "tflite",
            "digits",
            tmp_path / "r.json",
            "--model-path",
            bogus,
            "--compiled-model-path",
            tmp_path / "m.tflite",
        ]
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "digits.keras" in lines[0], done.stderr[-2000:]

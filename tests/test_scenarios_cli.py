"""The foundation scenarios from the command line, as a user runs them."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DIGITS, TF_CNN, TORCH_CNN, run_kenning

from kenning.core.metrics import classification_metrics
from kenning.core.results import load_results

FRAMEWORKS = ("tensorflow", "torch", "tvm", "onnxruntime", "tflite_runtime", "ai_edge_litert")


def test_importing_every_kenning_module_imports_no_framework() -> None:
    code = (
        "import importlib, pkgutil, sys, kenning\n"
        "for m in pkgutil.walk_packages(kenning.__path__, 'kenning.'):\n"
        # private modules (_name) are framework plug-ins their public module loads lazily;
        # *_worker modules run inside other environments
        "    if not m.name.rsplit('.', 1)[1].startswith('_') and not m.name.endswith('_worker'):\n"
        "        importlib.import_module(m.name)\n"
        f"print([m for m in {FRAMEWORKS!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_after_class_names_lists_their_flags() -> None:
    res = run_kenning(["kenning.scenarios.model_training", TORCH_CNN, DIGITS, "-h"])
    assert res.returncode == 0
    for flag in (
        "--model-path",
        "--num-epochs",
        "--batch-size",
        "--learning-rate",
        "--logdir",
        "--inference-batch-size",
        "--split-seed",
        "PyTorchDigitsCNN",
        "DigitsDataset",
    ):
        assert flag in res.stdout


def test_help_without_class_names_lists_short_names() -> None:
    res = run_kenning(["kenning.scenarios.inference_performance", "-h"])
    assert res.returncode == 0
    assert "torch-digits-cnn" in res.stdout and "digits" in res.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("wrapper", "suffix"), [(TORCH_CNN, "pth"), (TF_CNN, "keras")])
def test_train_then_benchmark_from_the_command_line(
    tmp_path: Path, wrapper: str, suffix: str
) -> None:
    model = tmp_path / f"model.{suffix}"
    start = time.monotonic()
    res = run_kenning(
        [
            "kenning.scenarios.model_training",
            wrapper,
            DIGITS,
            "--model-path",
            model,
            "--logdir",
            tmp_path / "logs",
            "--num-epochs",
            "10",
        ]
    )
    elapsed = time.monotonic() - start
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["val_accuracy"] >= 0.90
    assert elapsed < 60, f"training took {elapsed:.1f} s"
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*"))

    out = tmp_path / "results.json"
    res = run_kenning(
        ["kenning.scenarios.inference_performance", wrapper, DIGITS, out, "--model-path", model]
    )
    assert res.returncode == 0, res.stderr
    results = load_results(out)
    assert results.status == "complete"
    assert results.frameworks[0].name == ("torch" if suffix == "pth" else "tensorflow")
    distinct = results.distinct_samples()  # quality counts each sample once
    assert len(distinct) == 450 and len(results.samples) >= 1000
    recomputed = classification_metrics(
        [s.predictions for s in distinct], [s.ground_truth for s in distinct], 10
    )
    assert results.metrics == recomputed
    # the scenario reports the same validation accuracy training measured
    assert results.metrics.accuracy == pytest.approx(metrics["val_accuracy"], abs=1e-4)
    assert all(len(s.predictions) == 5 for s in results.samples)
    for s in results.samples:  # the framework call alone, inside the host's end to end
        assert s.end_to_end_s is not None and 0 < s.inference_s <= s.end_to_end_s < 1.0
    assert results.verdict is not None and results.warmup is not None


def one_error_line(res) -> str:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_unknown_class_lists_short_names(tmp_path: Path) -> None:
    res = run_kenning(
        [
            "kenning.scenarios.inference_performance",
            "kenning.models.Nope",
            DIGITS,
            tmp_path / "r.json",
            "--model-path",
            "x",
        ]
    )
    line = one_error_line(res)
    assert "kenning.models.Nope" in line and "torch-digits-cnn" in line


def test_missing_dataset_root_says_download(tmp_path: Path) -> None:
    res = run_kenning(
        [
            "kenning.scenarios.model_training",
            TF_CNN,
            "pet",
            "--dataset-root",
            tmp_path / "absent",
            "--model-path",
            tmp_path / "m.h5",
        ]
    )
    assert "--download-dataset" in one_error_line(res)


def test_corrupt_model_file(tmp_path: Path) -> None:
    model = tmp_path / "model.pth"
    model.write_bytes(b"definitely not a state dict")
    res = run_kenning(
        [
            "kenning.scenarios.inference_performance",
            TORCH_CNN,
            DIGITS,
            tmp_path / "r.json",
            "--model-path",
            model,
        ]
    )
    line = one_error_line(res)
    assert str(model) in line and "state_dict" in line


def test_wrong_framework_model_file(tmp_path: Path, torch_digits_model: Path) -> None:
    disguised = tmp_path / "model.keras"
    disguised.write_bytes(torch_digits_model.read_bytes())
    res = run_kenning(
        [
            "kenning.scenarios.inference_performance",
            TF_CNN,
            DIGITS,
            tmp_path / "r.json",
            "--model-path",
            disguised,
        ]
    )
    assert "not a Keras model file" in one_error_line(res)
    res = run_kenning(
        [
            "kenning.scenarios.inference_performance",
            TF_CNN,
            DIGITS,
            tmp_path / "r.json",
            "--model-path",
            torch_digits_model,
        ]
    )
    assert "is not a TensorFlowDigitsCNN model" in one_error_line(res)


def test_missing_model_file(tmp_path: Path) -> None:
    res = run_kenning(
        [
            "kenning.scenarios.inference_performance",
            TORCH_CNN,
            DIGITS,
            tmp_path / "r.json",
            "--model-path",
            tmp_path / "none.pth",
        ]
    )
    assert "does not exist" in one_error_line(res)


def test_unwritable_output_fails_before_work(tmp_path: Path, torch_digits_model: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    res = run_kenning(
        [
            "kenning.scenarios.inference_performance",
            TORCH_CNN,
            DIGITS,
            blocker / "r.json",
            "--model-path",
            torch_digits_model,
        ]
    )
    assert "cannot write" in one_error_line(res)
    res = run_kenning(
        [
            "kenning.scenarios.model_training",
            TORCH_CNN,
            DIGITS,
            "--model-path",
            blocker / "m.pth",
            "--num-epochs",
            "1",
        ]
    )
    assert "cannot write" in one_error_line(res)

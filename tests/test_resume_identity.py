"""``--resume`` continues only the same run, and leaves a complete file as it is.

Real files and a real ``inference_tester`` process, as a user resumes: a small ONNX model on
a folder of ``inputs.npy``, run in ONNX Runtime on this host.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_kenning
from ownmodels import onnx_mlp


def _tester(folder: Path, *extra: str) -> list[str | Path]:
    return [
        "kenning.scenarios.inference_tester", "onnx-model", "onnx", "onnxruntime", "folder",
        folder / "out.json", "--model-path", folder / "mlp.onnx",
        "--compiled-model-path", folder / "c.onnx", "--dataset-root", folder / "data",
        "--min-samples", "50", "--min-duration", "0", "--warmup", "1", "--percentiles", "50",
        "--verbosity", "WARNING", *extra,
    ]  # fmt: skip


@pytest.fixture
def complete(tmp_path: Path) -> Path:
    onnx_mlp(tmp_path)
    done = run_kenning(_tester(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path


def _make_partial(folder: Path, keep: int = 20) -> bytes:
    out = folder / "out.json"
    data = json.loads(out.read_text())
    data["status"], data["samples"] = "partial", data["samples"][:keep]
    out.write_text(json.dumps(data))
    return out.read_bytes()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--split-seed", "7"], ["--split-seed 12345 → 7"]),
        (["--validation-fraction", "0.5"], ["--validation-fraction 0.25 → 0.5"]),
        (["--subset", "all"], ["--subset validation → all"]),
        (
            ["--inference-batch-size", "4", "--sample-seed", "3", "--min-samples", "60"],
            ["--inference-batch-size 1 → 4", "--sample-seed 0 → 3", "--min-samples 50 → 60"],
        ),
    ],
)
def test_resume_refuses_another_run_naming_each_setting(
    complete: Path, flags: list[str], named: list[str]
) -> None:
    before = _make_partial(complete)
    done = run_kenning(_tester(complete, "--resume", *flags), timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    for text in named:
        assert text in lines[0], lines[0]
    assert lines[0].count("→") == len(named), lines[0]
    assert "choose another OUTPUT" in lines[0]
    assert (complete / "out.json").read_bytes() == before


def test_resume_of_the_same_run_continues_a_partial_file(complete: Path) -> None:
    _make_partial(complete)
    done = run_kenning(_tester(complete, "--resume"), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((complete / "out.json").read_text())
    assert data["status"] == "complete" and len(data["samples"]) == 50
    assert len({s["index"] for s in data["samples"]}) == data["dataset"]["num_samples"] == 30
    assert data["provenance"]["resumed"] == {"kept_samples": 20}


def test_resuming_a_complete_file_leaves_it_byte_for_byte(complete: Path) -> None:
    files = [complete / "out.json", complete / "out.outputs.npz"]
    before = [f.read_bytes() for f in files]
    done = run_kenning(_tester(complete, "--resume"), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "is complete (50 samples): nothing to resume" in done.stdout
    assert [f.read_bytes() for f in files] == before

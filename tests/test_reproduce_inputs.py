"""`invoke reproduce` of a scenario with a folder dataset, from another working directory.

The scenario runs where the user typed it (its data and build folder relative to there); the
reproduction runs from the work tree. Every step records the data it read with its hash: the
re-run copies it into its workspace, says it is the same data, and names data that changed
or is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from ownmodels import onnx_mlp

from kenning.core.results import load_results
from kenning.utils.provenance import sha256_tree

SCENARIO = (
    "name: s\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
    "deployments:\n  ort: {runtime: onnxruntime}\nmeasure: {min-samples: 200, repeats: 1}\n"
)


def test_a_folder_hash_counts_names_and_bytes_not_listing_order(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.npy").write_bytes(b"1")
    (tmp_path / "a" / "y.npy").write_bytes(b"2")
    first = sha256_tree(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert sha256_tree(tmp_path / "b") == first
    (tmp_path / "b" / "y.npy").rename(tmp_path / "b" / "z.npy")
    assert sha256_tree(tmp_path / "b") != first
    (tmp_path / "a" / "x.npy").write_bytes(b"3")
    assert sha256_tree(tmp_path / "a") != first


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A scenario run in its own folder (outside the work tree), relative paths in it."""
    onnx_mlp(tmp_path / "mlp")
    (tmp_path / "s.yaml").write_text(SCENARIO)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.run", "s.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    yield tmp_path


def _reproduce(results: Path) -> subprocess.CompletedProcess[str]:
    workspace = ROOT / "build" / f"test-reproduce-{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run(
            [sys.executable, "-m", "invoke", "reproduce", str(results),
             "--workspace", str(workspace)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.mark.slow
def test_a_folder_dataset_is_reproduced_from_another_directory(elsewhere: Path) -> None:
    results = elsewhere / "build" / "s" / "results" / "local" / "ort.json"
    step = load_results(results).provenance["steps"]["benchmark"]
    assert "mlp/data" in step["inputs"]
    assert step["inputs_sha256"]["mlp/data"] == sha256_tree(elsewhere / "mlp" / "data")

    done = _reproduce(results)
    # one run a side: latency is not judged (exit 3); everything else reproduced
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    assert "NOT REPRODUCED" not in done.stdout
    row = next(line for line in done.stdout.splitlines() if "input mlp/data" in line)
    assert "same data" in row, row

    # the data changed since the run: named, and not reproduced
    labels = elsewhere / "mlp" / "data" / "labels.npy"
    np.save(labels, (np.load(labels) + 1) % 3)
    done = _reproduce(results)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    row = next(line for line in done.stdout.splitlines() if "input mlp/data" in line)
    assert "changed since the run" in row, row

    # the data is gone: said, before any step runs
    shutil.rmtree(elsewhere / "mlp" / "data")
    done = _reproduce(results)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    row = next(line for line in done.stdout.splitlines() if "input mlp/data" in line)
    assert "missing" in row and "put it back" in done.stdout, done.stdout
    assert "ran again" not in done.stdout

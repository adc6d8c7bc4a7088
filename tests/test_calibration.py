"""Int8 calibration sees the inputs the deployment runs with, and says when it did not.

The chain ``[onnx, onnxruntime-quant]`` quantises the exported file in a step that reads it
through the generic ONNX wrapper: it cannot run the source model's preprocessing. The export
step, which can, writes the calibration inputs; the quantiser reads them; the range it was
calibrated on is recorded beside the artifact and compared with what the benchmark feeds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT

from kenning.core.calibration import range_mismatch
from kenning.core.results import load_results
from kenning.toolchain.run.job import Job
from kenning.toolchain.scenario.chains import check_scenario
from kenning.toolchain.scenario.load import load_scenario

SCENARIO = (
    "name: signed\nmodel: {wrapper: signedwrapper.SignedDigitsCNN, train: {epochs: 2}}\n"
    "dataset: {class: digits}\n"
    "deployments:\n"
    "  ort-int8: {chain: [onnx, {onnxruntime-quant: {calibration-samples: 50}}], "
    "runtime: onnxruntime}\n"
    "measure: {min-samples: 450, percentiles: [50]}\n"
)


def _env() -> dict[str, str]:
    """The tests folder importable, so the scenario's wrapper resolves in every step."""
    paths = [str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def test_the_plan_hands_the_export_steps_preprocessing_to_the_quantiser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    path = tmp_path / "signed.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    job = Job(scenario, check_scenario(scenario))
    export, quantise = job.plan("ort-int8", tmp_path / "build", "amd64").steps
    calibration = str(tmp_path / "build" / "compiled" / "ort-int8-amd64.calibration.npz")
    assert export.template[export.template.index("--write-calibration") + 1] == calibration
    assert "--write-calibration-samples" in export.template and calibration in export.outputs
    assert quantise.template[quantise.template.index("--calibration-data") + 1] == calibration
    assert calibration in quantise.inputs
    # a chain with no quantiser after its first step needs no hand-over
    chain = scenario.deployments["ort-int8"].chain
    scenario.deployments["ort-int8"].chain = chain[:1]
    steps = Job(scenario, check_scenario(scenario)).plan("ort-int8", tmp_path, "amd64").steps
    assert not any("calibration" in word for step in steps for word in step.template)


def test_a_range_beyond_calibration_is_named() -> None:
    record = {"inputs": {"x": [0.0, 1.0]}, "calibrated_on": "digits train split"}
    assert range_mismatch(record, {"x": [0.01, 0.99]}) == []
    [problem] = range_mismatch(record, {"x": [-1.0, 1.0]})
    assert "input 'x' reaches [-1, 1] but was calibrated on [0, 1]" in problem


@pytest.mark.slow
def test_quantisation_after_export_calibrates_on_the_deployments_range() -> None:
    folder = ROOT / "build" / f"test-calibration-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        (folder / "signed.yaml").write_text(SCENARIO)
        done = subprocess.run(
            [sys.executable, "-m", "kenning.scenarios.run", str(folder / "signed.yaml"),
             "--build", str(folder / "build"), "--set", "measure.repeats=1"],
            cwd=ROOT, capture_output=True, text=True, timeout=900, env=_env(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        artifact = folder / "build" / "compiled" / "ort-int8-amd64.onnx"
        record = json.loads(artifact.with_name(artifact.name + ".calibration.json").read_text())
        [(low, high)] = record["inputs"].values()
        assert low < -0.9 and high > 0.9, record  # what the deployment feeds, not [0, 1]
        assert "written by the chain's first step" in record["calibrated_on"]
        res = load_results(folder / "build" / "results" / "local" / "ort-int8.json")
        assert res.provenance["calibration"]["mismatch"] == []
        assert res.agreement is not None and res.agreement.agrees, res.agreement
    finally:
        shutil.rmtree(folder, ignore_errors=True)

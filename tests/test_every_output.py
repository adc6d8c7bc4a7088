"""Every output compared, with a measure that fits it; the scored output named; bad pairs refused.

The unit tests feed the comparison outputs a broken deployment really gives (a constant, a
sign flip with an offset, NaN); the scenario tests build models as users do (ONNX written
with onnx.helper) and run them through ``kenning.scenarios.run`` on this machine: an int8
build that collapses a regression output, a two-output model with boxes first, a model
with more outputs than the data has class folders.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from ownmodels import (
    onnx_boxes_first,
    onnx_image_classifier,
    onnx_offset_regressor,
    run_scenario_file,
)
from test_core_results import make_results

from kenning.core.agreement import OutputRule, compare_outputs, load_outputs
from kenning.core.outputcheck import DEFAULT_TOLERANCES, compare_output
from kenning.core.recorder import ResultsRecorder, outputs_path
from kenning.core.results import load_results
from kenning.datasets.digits import DigitsDataset

FLOAT, INT8 = DEFAULT_TOLERANCES["float32"], DEFAULT_TOLERANCES["int8"]
rng = np.random.default_rng(3)
LOGITS = rng.normal(0, 3, (200, 10))
VALUES = 1000.0 + rng.normal(0, 5, (200, 1))


def test_the_same_outputs_agree_and_float_noise_is_tolerated() -> None:
    same = compare_output("y", LOGITS, LOGITS, "classification", FLOAT)
    assert same.agrees and same.top1 == 1.0 and same.snr_db == 300.0 and same.cosine == 1.0
    noisy = LOGITS + rng.normal(0, 1e-4, LOGITS.shape)
    assert compare_output("y", noisy, LOGITS, "tensor", FLOAT).agrees


def test_a_constant_output_disagrees_however_close_to_the_mean() -> None:
    # what an int8 build of the offset regressor gives: one value, near the reference's mean
    constant = np.full_like(VALUES, VALUES.mean())
    out = compare_output("y", constant, VALUES, "regression", INT8)
    assert not out.agrees
    assert out.variation is not None and out.variation < 1e-9 and out.snr_db < 0.01
    assert any("collapsed" in r for r in out.reasons), out.reasons
    assert any("SNR" in r for r in out.reasons), out.reasons
    assert out.reasons[0].startswith("output 'y': ")


def test_a_sign_flip_with_an_offset_disagrees() -> None:
    flipped = LOGITS * -100 + 7
    out = compare_output("scores", flipped, LOGITS, "classification", FLOAT)
    assert not out.agrees and out.top1 is not None and out.top1 < 0.2
    assert out.cosine < 0 and out.snr_db < 0
    tensor = compare_output("y", VALUES * -100 + 7, VALUES, "regression", INT8)
    assert not tensor.agrees and any("SNR" in r for r in tensor.reasons)


def test_nan_and_inf_disagree() -> None:
    broken = LOGITS.copy()
    broken[3, 2], broken[7, 0] = np.nan, np.inf
    out = compare_output("y", broken, LOGITS, "tensor", INT8)
    assert out.nonfinite == 2 and not out.agrees
    assert "2 NaN/Inf values" in out.reasons[0]


def test_int8_noise_passes_int8_tolerances_not_float_ones() -> None:
    step = (LOGITS.max() - LOGITS.min()) / 255  # what 8 bits of the output's range give
    quantised = np.round(LOGITS / step) * step
    assert compare_output("y", quantised, LOGITS, "classification", INT8).agrees
    strict = compare_output("y", quantised, LOGITS, "tensor", FLOAT)
    assert not strict.agrees and any("SNR" in r for r in strict.reasons)


def _capture(path: Path, names: list[str], outputs: list[np.ndarray]) -> Path:
    recorder = ResultsRecorder(path, make_results(DigitsDataset(None)))
    recorder.output_names = names
    for i in range(len(outputs[0])):
        recorder.capture(i, [o[i] for o in outputs])
    recorder._write_outputs()
    return outputs_path(path)


def test_every_output_is_captured_and_matched_by_name(tmp_path: Path) -> None:
    boxes, scores = rng.random((50, 4)), rng.random((50, 3))
    reference = _capture(tmp_path / "ref.json", ["boxes", "scores"], [boxes, scores])
    # the deployment lists its outputs in another order, and its boxes are wrong
    run = _capture(tmp_path / "run.json", ["scores", "boxes"], [scores, boxes[::-1]])
    captured = load_outputs(run)
    assert captured.names == ["scores", "boxes"] and captured.rows[1].shape == (50, 4)
    rules = {"scores": OutputRule(task="classification", scored=True)}
    agreement = compare_outputs(run, reference, rules, task="classification")
    assert [o.name for o in agreement.outputs] == ["scores", "boxes"]  # the scored one first
    assert agreement.top1 == 1.0 and agreement.outputs[0].agrees
    assert not agreement.agrees and agreement.reasons[0].startswith("output 'boxes': ")


def test_a_tolerance_per_output_is_honoured(tmp_path: Path) -> None:
    noisy = VALUES + rng.normal(0, 0.5, VALUES.shape)
    reference = _capture(tmp_path / "ref.json", ["y"], [VALUES])
    run = _capture(tmp_path / "run.json", ["y"], [noisy])
    assert compare_outputs(run, reference, precision="float32").agrees is False
    loose = {"y": OutputRule(**{"snr-db": 15, "cosine": 0.99})}
    assert compare_outputs(run, reference, loose, precision="float32").agrees


# -- scenarios, as users write them -------------------------------------------------------


@pytest.fixture(scope="module")
def models() -> Iterator[Path]:
    folder = ROOT / "build" / f"test-outputs-{uuid.uuid4().hex[:8]}"
    onnx_offset_regressor(folder / "offset")
    onnx_boxes_first(folder / "boxes")
    onnx_image_classifier(folder / "wide", classes=10)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_an_int8_build_that_collapses_a_regression_output_disagrees(models: Path) -> None:
    done = run_scenario_file(models, "offset", (
        "name: offset\nmodel: {file: offset/offset.onnx}\ndataset: {folder: offset/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n"
        "  ort-int8: {chain: [onnxruntime-quant], runtime: onnxruntime}\n"
        "measure: {min-samples: 100, percentiles: [50], subset: all}\n"
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = models / "build-offset" / "results" / "local"
    ort = load_results(results / "ort.json").agreement
    assert ort is not None and ort.agrees, ort
    int8 = load_results(results / "ort-int8.json").agreement
    assert int8 is not None and not int8.agrees and int8.precision == "int8"
    assert any("output 'y': collapsed" in r for r in int8.reasons), int8.reasons
    assert "ort-int8 on local: outputs DISAGREE" in done.stderr
    assert (
        "collapsed" in (models / "build-offset" / "reports" / "local" / "index.html").read_text()
    )


@pytest.mark.slow
def test_the_named_output_is_scored_and_both_are_compared(models: Path) -> None:
    done = run_scenario_file(models, "boxes", (
        "name: boxes\nmodel:\n  file: boxes/boxes.onnx\n"
        "  outputs:\n    scores: {task: classification, scored: true}\n"
        "    boxes: {task: detection-boxes}\n"
        "dataset: {folder: boxes/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n  tvm: {chain: [tvm], runtime: tvm}\n"
        "measure: {min-samples: 100, percentiles: [50], subset: all}\n"
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("ort", "tvm"):
        res = load_results(models / "build-boxes" / "results" / "local" / f"{name}.json")
        assert res.model.outputs == ["boxes", "scores"] and res.model.scored_output == "scores"
        # the labels are the model's own argmax of its scores: scored right, it is exact
        assert res.metrics is not None and res.metrics.accuracy == 1.0, name
        a = res.agreement
        assert a is not None and a.agrees, a
        assert [(o.name, o.task) for o in a.outputs] == [
            ("scores", "classification"), ("boxes", "detection-boxes")]  # fmt: skip


@pytest.mark.slow
def test_more_outputs_than_class_folders_is_one_error_before_any_work(models: Path) -> None:
    from PIL import Image

    data = models / "wide" / "images"
    for k, name in enumerate(("cat", "dog", "fox")):
        (data / name).mkdir(parents=True, exist_ok=True)
        for n in range(2):
            pixels = np.full((6, 6), 40 * k + n, np.uint8)
            Image.fromarray(pixels).save(data / name / f"{n}.png")
    text = (
        "name: wide\nmodel: {file: wide/classifier.onnx}\n"
        "dataset: {folder: wide/images, preprocessing: {scale: 255}}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n"
    )
    done = run_scenario_file(models, "wide", text)
    assert done.returncode != 0, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "scores 10 classes" in errors[0] and "has 3" in errors[0], errors[0]
    assert "labels:" in errors[0]
    assert "Traceback" not in done.stderr
    assert "kenning.scenarios.inference_performance" not in done.stderr  # no command line
    assert not (models / "build-wide" / "results" / "local" / "ort.json").exists()

    # mapped to the model's classes, the same folders run
    mapped = text.replace("scale: 255}", "scale: 255}, labels: {cat: 3, dog: 5, fox: 9}")
    mapped += "measure: {min-samples: 20, percentiles: [50], subset: all}\n"
    done = run_scenario_file(models, "wide", mapped)
    assert done.returncode == 0, done.stderr[-3000:]
    res = load_results(models / "build-wide" / "results" / "local" / "ort.json")
    assert res.status == "complete" and res.dataset.class_names[3] == "cat"

"""User models that failed or went wrong before, each as a user meets it.

A batch-1 model on synthetic data, float data for a uint8 input, int64 token ids through
ONNX Runtime int8, and a ``torch.onnx.export(dynamo=True)`` model with its weights in
``model.onnx.data``. The scenario tests run ``kenning.scenarios.run`` on this machine.
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
    onnx_fixed_batch,
    onnx_token_classifier,
    onnx_uint8_image,
    run_scenario_file,
    torch_external_data,
)

from kenning.core.results import load_results
from kenning.datasets.folder import FolderDataset
from kenning.datasets.synthetic import SyntheticDataset
from kenning.modelwrappers.onnx import ONNXModel
from kenning.utils.errors import ConfigurationError


def test_synthetic_data_for_a_model_of_batch_one(tmp_path: Path) -> None:
    model = onnx_fixed_batch(tmp_path)
    data = SyntheticDataset(None, model, samples=60)
    assert len(data) == 60
    picked = data.prepare_input_samples([52])
    assert picked.shape == (1, 4) and picked.dtype == np.float32
    assert not np.array_equal(picked, data.prepare_input_samples([7]))


def _images(folder: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (6, 6), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / label / f"{i}.png")
    return folder


def test_float_data_for_a_uint8_input_is_refused_unless_it_casts_exactly(tmp_path: Path) -> None:
    path = onnx_uint8_image(tmp_path)
    images = _images(tmp_path / "images")
    scaled = ONNXModel(path, FolderDataset(images, scale=255.0))
    scaled.prepare_model()
    with pytest.raises(ConfigurationError) as caught:
        scaled.check_inputs()
    text = str(caught.value)
    assert "input 'image' takes uint8" in text and "drop `scale:`" in text, text
    exact = ONNXModel(path, FolderDataset(images))  # 0..255 as floats: every value casts
    exact.prepare_model()
    exact.check_inputs()


def test_set_points_a_scenario_at_local_data_without_editing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kenning.toolchain.scenario.load import ScenarioError, load_scenario

    path = tmp_path / "shared" / "s.yaml"
    path.parent.mkdir()
    path.write_text(
        "name: s\nmodel: {file: m.onnx}\ndataset: {folder: theirs}\n"
        "deployments: {ort: {runtime: onnxruntime}}\n"
    )
    before = path.read_text()
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)  # where the user types the command
    scenario = load_scenario(path, ["dataset.folder=mine", "measure.min-samples=50"])
    assert scenario.dataset.folder == str(tmp_path / "mine")
    assert scenario.path(scenario.dataset.folder) == tmp_path / "mine"
    assert scenario.measure == {"min-samples": 50}
    assert path.read_text() == before  # the file is left as it was
    with pytest.raises(ScenarioError, match=r"give KEY\.PATH=VALUE"):
        load_scenario(path, ["dataset.folder"])
    with pytest.raises(ScenarioError, match="`name` is not a mapping"):
        load_scenario(path, ["name.x=1"])


def test_npz_arrays_named_as_the_inputs_are_matched_by_name(tmp_path: Path) -> None:
    from ownmodels import onnx_two_inputs

    path = onnx_two_inputs(tmp_path / "two")
    data = tmp_path / "two" / "data"
    with np.load(data / "inputs.npz") as arrays:
        a, b = arrays["a"], arrays["b"]
    np.savez(data / "inputs.npz", b=b, a=a)  # the file's order is not the model's
    model = ONNXModel(path, FolderDataset(data))
    model.prepare_model()
    model.check_inputs()
    first = model.dataset.prepare_input_samples([0])
    assert [x.shape for x in first] == [(1, 4), (1, 3)]
    np.testing.assert_array_equal(first[0], a[:1])


def test_a_savedmodel_folder_is_refused_with_a_conversion_that_exists(tmp_path: Path) -> None:
    from kenning.core.formats import format_of_file

    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ConfigurationError) as caught:
        format_of_file(folder)
    assert "TensorFlow SavedModel folder" in str(caught.value)
    assert "tf2onnx.convert --saved-model" in str(caught.value)
    assert "wrapper:" not in str(caught.value)  # no wrapper reads it


def test_a_bad_secret_file_is_refused_before_the_model_is_loaded(tmp_path: Path) -> None:
    from conftest import DIGITS, TORCH_CNN, run_kenning

    done = run_kenning([
        "kenning.scenarios.inference_tester", TORCH_CNN, "onnx", "onnxruntime", DIGITS,
        tmp_path / "r.json", "--model-path", tmp_path / "no-model.pth",
        "--compiled-model-path", tmp_path / "m.onnx", "--protocol-cls", "network",
        "--port", "9", "--secret-file", tmp_path / "no-secret",
    ], timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "no-secret" in done.stderr and "no-model.pth" not in done.stderr, done.stderr


# -- scenarios, as users write them -------------------------------------------------------


@pytest.fixture(scope="module")
def models() -> Iterator[Path]:
    folder = ROOT / "build" / f"test-defects-{uuid.uuid4().hex[:8]}"
    onnx_token_classifier(folder / "tokens")
    torch_external_data(folder / "external")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_int64_token_ids_are_quantised_by_onnx_runtime(models: Path) -> None:
    done = run_scenario_file(models, "tokens", (
        "name: tokens\nmodel: {file: tokens/tokens.onnx}\ndataset: {folder: tokens/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n"
        "  ort-int8: {chain: [onnxruntime-quant], runtime: onnxruntime}\n"
        "measure: {min-samples: 100, percentiles: [50], subset: all}\n"
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    res = load_results(models / "build-tokens" / "results" / "local" / "ort-int8.json")
    assert res.status == "complete"
    assert res.agreement is not None and res.agreement.precision == "int8"
    assert res.agreement.agrees, res.agreement.reasons


@pytest.mark.slow
def test_an_onnx_model_with_external_data_runs_everywhere(models: Path) -> None:
    assert (models / "external" / "model.onnx.data").is_file()  # as the exporter writes it
    done = run_scenario_file(models, "external", (
        "name: external\nmodel: {file: external/model.onnx}\n"
        "dataset: {synthetic: {samples: 40}}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n  tvm: {chain: [tvm], runtime: tvm}\n"
        "measure: {min-samples: 100, percentiles: [50]}\n"
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("ort", "tvm"):
        res = load_results(models / "build-external" / "results" / "local" / f"{name}.json")
        assert res.status == "complete", name
        assert res.agreement is not None and res.agreement.agrees, (name, res.agreement)


@pytest.mark.parametrize("reference", [True, False])
def test_not_a_model_names_the_users_file_and_the_scenario_line(
    tmp_path: Path, reference: bool
) -> None:
    (tmp_path / "net.keras").write_text("this is not a model")
    done = run_scenario_file(tmp_path, "mine", (
        "name: mine\nmodel:\n  file: net.keras\ndataset: {synthetic: {samples: 8}}\n"
        "deployments: {lite: {chain: [tflite], runtime: tflite}}\n"
        f"measure: {{min-samples: 10}}\nreference: {str(reference).lower()}\n"
    ))  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), line
    assert f"{tmp_path / 'net.keras'} ({tmp_path / 'mine.yaml'}:3, key 'model.file') is not a " \
        "Keras model file" in line, line  # fmt: skip
    assert "build-mine" not in line and "models/mine.keras" not in line, line

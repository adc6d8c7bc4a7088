"""TensorFlow ONNX round trips on the small custom Keras models (keras.applications: slow test)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from capabilities import requires
from conftest_onnx_conversion import onnx_output

from kenning.core.onnxresults import ModelReport, Status
from kenning.onnxconverters.tensorflow import TensorFlowONNXConversion

pytestmark = requires(
    "converters",
    importlib.util.find_spec("onnx2tf") is not None,
    "onnx2tf is not installed (requirements-converters.txt)",
)

SMALL = ["small_cnn", "separable_cnn", "mlp", "lstm", "gru"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelReport]:
    folder = tmp_path_factory.mktemp("tf-onnx")
    converter = TensorFlowONNXConversion()
    return {r.model: r for r in converter.check_conversions(folder, only=set(SMALL))}


def test_the_issue_applications_are_listed() -> None:
    described = {m.description for m in TensorFlowONNXConversion().models()}
    for name in ("MobileNetV2", "ResNet50", "DenseNet121", "EfficientNetB0"):
        assert f"keras.applications.{name}" in described


@pytest.mark.parametrize("name", SMALL)
def test_small_models_export_and_import(reports: dict[str, ModelReport], name: str) -> None:
    report = reports[name]
    assert report.export.status is Status.SUPPORTED, report.export.detail
    assert report.imported.status is Status.SUPPORTED, report.imported.detail
    # independently of the runner: rebuild the Keras model, compare with ONNX Runtime
    converter = TensorFlowONNXConversion()
    entry = next(m for m in converter.models() if m.name == name)
    model = entry.build()
    x = np.random.default_rng(5).uniform(0, 1, entry.input_shape).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    onnx_x = x.transpose(0, 3, 1, 2) if x.ndim == 4 else x
    assert report.onnx_path is not None
    np.testing.assert_allclose(onnx_output(report.onnx_path, onnx_x), expected, atol=1e-4)


def test_import_does_not_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnx2tf fetches sample images from GitHub unless they are in the working folder."""
    import requests

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access: {args}")

    monkeypatch.setattr(requests, "get", refuse)
    converter = TensorFlowONNXConversion()
    (report,) = converter.check_conversions(tmp_path, only={"small_cnn"})
    assert report.imported.status is Status.SUPPORTED, report.imported.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small_cnn.onnx"]

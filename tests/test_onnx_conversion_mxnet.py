"""MXNet ONNX round trips through the worker in MXNet's own venv.

Without the venv every model must report "environment unavailable"; with it
(``python -m kenning.onnxconverters.mxnet_env``, or ``KENNING_MXNET_VENV``)
the small models must convert both ways.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from capabilities import missing
from conftest_onnx_conversion import onnx_output

from kenning.core.onnxresults import ConversionError, ModelReport, Status
from kenning.onnxconverters import mxnet_env
from kenning.onnxconverters.mxnet import MODELS, MXNetONNXConversion


def _venv() -> Path:
    venv = mxnet_env.default_venv()
    try:
        mxnet_env.probe(venv)
    except ConversionError as exc:
        missing("mxnet", f"no working MXNet venv: {exc}")
    return venv


def test_a_missing_venv_marks_every_model_unavailable(tmp_path: Path) -> None:
    converter = MXNetONNXConversion(mxnet_venv=tmp_path / "nowhere")
    reports = converter.check_conversions(tmp_path / "out")
    assert [r.model for r in reports] == [name for name, _, _ in MODELS]
    for report in reports:
        for result in (report.export, report.imported):
            assert result.status is Status.UNAVAILABLE
            assert "python -m kenning.onnxconverters.mxnet_env" in result.detail
    assert "environment unavailable" in converter.version()
    assert not list((tmp_path / "out").iterdir())


def test_a_venv_without_mxnet_is_unavailable(tmp_path: Path) -> None:
    fake = tmp_path / "venv" / "bin"
    fake.mkdir(parents=True)
    (fake / "python").symlink_to(Path(__import__("sys").executable))
    converter = MXNetONNXConversion(mxnet_venv=tmp_path / "venv")
    (report, *_) = converter.check_conversions(tmp_path / "out", only={"mlp"})
    assert report.export.status is Status.UNAVAILABLE
    assert "No module named 'mxnet'" in report.export.detail


def test_venv_path_comes_from_flag_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mxnet_env.ENV_VARIABLE, "/opt/mx")
    assert MXNetONNXConversion().venv == Path("/opt/mx")
    assert MXNetONNXConversion(mxnet_venv=Path("/x")).venv == Path("/x")
    monkeypatch.delenv(mxnet_env.ENV_VARIABLE)
    assert MXNetONNXConversion().venv == Path.home() / ".cache" / "kenning" / "mxnet-venv"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelReport]:
    converter = MXNetONNXConversion(mxnet_venv=_venv())
    folder = tmp_path_factory.mktemp("mxnet-onnx")
    return {r.model: r for r in converter.check_conversions(folder, only={"small_cnn", "mlp"})}


@pytest.mark.parametrize("name", ["small_cnn", "mlp"])
def test_small_models_export_and_import(reports: dict[str, ModelReport], name: str) -> None:
    report = reports[name]
    assert report.export.status is Status.SUPPORTED, report.export.detail
    assert report.imported.status is Status.SUPPORTED, report.imported.detail
    assert report.onnx_path is not None
    shape = next(s for n, _, s in MODELS if n == name)
    x = np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)
    # the runner compared with MXNet's output; here ONNX Runtime must give finite logits
    output = onnx_output(report.onnx_path, x)
    assert output.shape == (1, 10) and np.isfinite(output).all() and np.abs(output).max() > 1e-3


def test_worker_errors_come_back_as_statuses(tmp_path: Path) -> None:
    venv = _venv()
    answer = mxnet_env.call_worker(
        venv,
        "export",
        60,
        model="no_such_model",
        input=str(_save(tmp_path / "x.npy")),
        reference=str(tmp_path / "r.npy"),
        onnx=str(tmp_path / "m.onnx"),
    )
    assert answer["ok"] is False
    assert answer["step"] == "build"
    assert "unknown model no_such_model" in answer["message"]


def _save(path: Path) -> Path:
    np.save(path, np.zeros((1, 64), np.float32))
    return path

"""``python -m kenning.scenarios.onnx_conversion`` end to end, as the README shows it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from capabilities import missing
from conftest import run_kenning
from conftest_onnx_conversion import onnx_output, sphinx_build

from kenning.onnxconverters import mxnet_env

SCENARIO = "kenning.scenarios.onnx_conversion"
CONVERTERS = [
    "kenning.onnxconverters.pytorch.PyTorchONNXConversion",
    "kenning.onnxconverters.tensorflow.TensorFlowONNXConversion",
    "kenning.onnxconverters.mxnet.MXNetONNXConversion",
]


def _rows(rst: str) -> list[tuple[str, str, str, str]]:
    """(model, framework, export, import) for each table row."""
    rows = re.findall(r"   \* - ``(\w+)``\n     - (\w+)\n     - (.*)\n     - (.*)\n", rst)
    return [(m, f, e, i) for m, f, e, i in rows]


def _requirements() -> None:
    for module in ("onnx2torch", "onnx2tf"):
        if importlib.util.find_spec(module) is None:
            missing("converters", f"{module} is not installed (requirements-converters.txt)")


def test_unknown_converter_is_one_line_error(tmp_path: Path) -> None:
    done = run_kenning(
        [SCENARIO, tmp_path / "m", tmp_path / "t.rst", "--converters-list", "caffe"], timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: unknown onnxconverter class 'caffe'")
    assert "mxnet, pytorch, tensorflow" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_model_name_is_one_line_error(tmp_path: Path) -> None:
    done = run_kenning(
        [SCENARIO, tmp_path / "m", tmp_path / "t.rst", "--converters-list", "pytorch",
         "--models", "lstm", "alexnet"],
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: no model named alexnet; models: gru, lstm,")


def test_selected_models_of_every_framework(tmp_path: Path) -> None:
    _requirements()
    rst = tmp_path / "build" / "onnx-support.rst"
    venv = tmp_path / "no-mxnet-here"
    done = run_kenning(
        [
            SCENARIO,
            tmp_path / "build" / "models-directory",
            rst,
            "--converters-list",
            *CONVERTERS,
            "--models",
            "mlp",
            "lstm",
            "--mxnet-venv",
            venv,
        ],
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(rst.read_text())
    assert [(m, f) for m, f, _, _ in rows] == [
        ("lstm", "PyTorch"),
        ("mlp", "TensorFlow"),
        ("lstm", "TensorFlow"),
        ("mlp", "MXNet"),
    ]
    for model, framework, exported, imported in rows[:3]:
        assert (exported, imported) == ("supported", "supported"), (model, framework)
    assert rows[3][2].startswith("environment unavailable: no MXNet venv at")
    assert "6 of 8 conversions supported" in done.stdout
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.onnx"))
    assert [str(p) for p in files] == [
        "build/models-directory/pytorch/lstm.onnx",
        "build/models-directory/tensorflow/lstm.onnx",
        "build/models-directory/tensorflow/mlp.onnx",
    ]
    built = sphinx_build(rst, tmp_path / "sphinx")
    assert built.returncode == 0, built.stderr
    strict = run_kenning(
        [SCENARIO, tmp_path / "m", tmp_path / "t.rst", "--converters-list", "mxnet",
         "--models", "mlp", "--mxnet-venv", venv, "--strict"],
        timeout=300,
    )  # fmt: skip
    assert strict.returncode == 1
    assert "0 of 2 conversions supported" in strict.stdout


@pytest.mark.slow
def test_the_readme_command_supports_every_conversion(tmp_path: Path) -> None:
    """The full command: every model of every framework converts both ways (about 5 min)."""
    _requirements()
    try:
        mxnet_env.probe(mxnet_env.default_venv())
    except mxnet_env.ConversionError as exc:
        missing("mxnet", f"no MXNet venv: {exc}")
    done = run_kenning(
        [
            SCENARIO,
            "build/models-directory",
            "build/onnx-support.rst",
            "--converters-list",
            *CONVERTERS,
        ],
        timeout=1800,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rst = tmp_path / "build" / "onnx-support.rst"
    rows = _rows(rst.read_text())
    assert len(rows) >= 6 + 7 + 6
    assert {f for _, f, _, _ in rows} == {"PyTorch", "TensorFlow", "MXNet"}
    for model, framework, exported, imported in rows:
        assert (exported, imported) == ("supported", "supported"), (model, framework)
    for model, framework, _, _ in rows:
        path = tmp_path / "build" / "models-directory" / framework.lower() / f"{model}.onnx"
        model_input = onnx.load(str(path)).graph.input[0]
        shape = [d.dim_value for d in model_input.type.tensor_type.shape.dim]
        x = np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)
        assert np.isfinite(onnx_output(path, x)).all(), path
    built = sphinx_build(rst, tmp_path / "sphinx")
    assert built.returncode == 0, built.stderr

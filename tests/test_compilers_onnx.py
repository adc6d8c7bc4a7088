"""ONNX export and ONNX Runtime int8 quantisation of the digits CNNs."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_compilers import (  # noqa: F401 - fixtures
    TORCH_EXPORT_WARNINGS,
    cc_digits,
    cc_models,
    cc_tf_cnn,
    cc_torch_cnn,
    compiled_accuracy,
)

from kenning.compilers.onnx import ONNXCompiler
from kenning.compilers.onnxruntime import ONNXRuntimeQuantizer
from kenning.core.iospec import IOSpec
from kenning.runtimes.onnxruntime import ONNXRuntime
from kenning.utils.errors import ConfigurationError, ModelError

pytestmark = TORCH_EXPORT_WARNINGS


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_onnx_export_keeps_accuracy(framework, cc_models, cc_digits, tmp_path: Path) -> None:
    model = cc_models[framework]
    compiler = ONNXCompiler(cc_digits, tmp_path / "model.onnx")
    source, compiled = compiled_accuracy(model, compiler, ONNXRuntime(), cc_digits)
    assert compiled == pytest.approx(source, abs=0.002)
    spec = IOSpec.load(tmp_path / "model.onnx")
    assert spec.inputs[0].shape[0] == -1
    assert spec.outputs[0].shape == [-1, 10]
    # the artifact travels alone: no side file of weights
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.iospec.json"]


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_ort_int8_within_two_points(framework, cc_models, cc_digits, tmp_path: Path) -> None:
    model = cc_models[framework]
    compiler = ONNXRuntimeQuantizer(cc_digits, tmp_path / "int8.onnx", calibration_samples=100)
    source, compiled = compiled_accuracy(model, compiler, ONNXRuntime(), cc_digits)
    assert abs(compiled - source) <= 0.02, (source, compiled)
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops


def test_not_a_model_is_named(cc_digits, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.onnx"
    bogus.write_text("not a model")
    with pytest.raises(ModelError, match=r"notes\.onnx is not a valid ONNX model"):
        ONNXCompiler(cc_digits, tmp_path / "out.onnx").compile(bogus, None)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match=r"notes\.onnx"):
        ONNXRuntimeQuantizer(cc_digits, tmp_path / "q.onnx").compile(bogus, None)  # type: ignore[arg-type]


def test_int8_without_dataset(cc_torch_cnn, tmp_path: Path) -> None:
    compiler = ONNXRuntimeQuantizer(None, tmp_path / "q.onnx")
    with pytest.raises(ConfigurationError, match="int8 quantisation calibrates on a dataset"):
        compiler.compile_wrapper(cc_torch_cnn)


def test_lazy_imports() -> None:
    import subprocess
    import sys

    modules = [
        f"kenning.{family}.{name}"
        for family in ("compilers", "runtimes")
        for name in ("onnxruntime", "tflite", "tvm", "pytorch")
    ]
    modules += ["kenning.compilers.onnx", "kenning.compilers.tvm_tuning", "kenning.core.pipeline"]
    heavy = (
        "tensorflow",
        "torch",
        "tvm",
        "onnxruntime",
        "onnx",
        "tflite_runtime",
        "ai_edge_litert",
    )
    code = f"import sys, {', '.join(modules)}; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

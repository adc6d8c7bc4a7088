"""TFLiteCompiler on the Keras digits CNN: float32, float16, int8, and bad input."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import shutil

import pytest
from conftest_compilers import (  # noqa: F401 - fixtures
    TORCH_EXPORT_WARNINGS,
    cc_digits,
    cc_tf_cnn,
    cc_torch_cnn,
    compiled_accuracy,
)

from kenning.compilers.tflite import TFLiteCompiler
from kenning.core.iospec import IOSpec
from kenning.runtimes.tflite import TFLiteRuntime
from kenning.utils.errors import ConfigurationError, ModelError

pytestmark = TORCH_EXPORT_WARNINGS


@pytest.mark.parametrize(
    ("target", "io_type"),
    [("default", "float32"), ("float16", "float32"), ("int8", "int8"), ("int8", "float32")],
)
def test_accuracy_within_two_points(target, io_type, cc_tf_cnn, cc_digits, tmp_path) -> None:
    path = tmp_path / "model.tflite"
    compiler = TFLiteCompiler(
        cc_digits,
        path,
        target=target,
        inference_input_type=io_type,
        inference_output_type=io_type,
        calibration_samples=100,
    )
    source, compiled = compiled_accuracy(cc_tf_cnn, compiler, TFLiteRuntime(), cc_digits)
    assert abs(compiled - source) <= 0.02, (source, compiled)
    spec = IOSpec.load(path)
    assert spec.inputs[0].dtype == io_type and spec.outputs[0].dtype == io_type
    assert spec.inputs[0].shape == [-1, 8, 8, 1]
    if io_type == "int8":
        assert spec.inputs[0].scale and spec.inputs[0].zero_point is not None
        assert spec.outputs[0].scale and spec.outputs[0].zero_point is not None
    else:
        assert spec.inputs[0].scale is None


def test_int8_is_smaller(cc_tf_cnn, cc_digits, tmp_path) -> None:
    TFLiteCompiler(cc_digits, tmp_path / "f.tflite").compile_wrapper(cc_tf_cnn)
    TFLiteCompiler(cc_digits, tmp_path / "q.tflite", target="int8").compile_wrapper(cc_tf_cnn)
    assert (tmp_path / "q.tflite").stat().st_size < (tmp_path / "f.tflite").stat().st_size / 2


def test_int8_without_dataset(cc_tf_cnn, tmp_path) -> None:
    compiler = TFLiteCompiler(None, tmp_path / "q.tflite", target="int8")
    with pytest.raises(ConfigurationError, match="--target int8 calibrates on a dataset"):
        compiler.compile_wrapper(cc_tf_cnn)


def test_unknown_target(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="--target 'riscv' is not a TFLite target"):
        TFLiteCompiler(None, tmp_path / "m.tflite", target="riscv")


def test_integer_io_needs_quantised_target(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="--inference-input-type int8 needs --target"):
        TFLiteCompiler(None, tmp_path / "m.tflite", inference_input_type="int8")


@pytest.mark.skipif(shutil.which("edgetpu_compiler") is not None, reason="compiler present")
def test_edgetpu_without_compiler(cc_tf_cnn, cc_digits, tmp_path) -> None:
    compiler = TFLiteCompiler(cc_digits, tmp_path / "m.tflite", target="edgetpu")
    with pytest.raises(ConfigurationError, match="edgetpu_compiler, which is not installed"):
        compiler.compile_wrapper(cc_tf_cnn)


def test_not_a_model(cc_tf_cnn, cc_digits, tmp_path) -> None:
    bogus = tmp_path / "broken.keras"
    bogus.write_text("not a model")
    compiler = TFLiteCompiler(cc_digits, tmp_path / "m.tflite")
    with pytest.raises(ModelError, match=r"broken\.keras is not a Keras model"):
        compiler.compile(bogus, cc_tf_cnn.get_io_specification())


def test_torch_model_is_refused(cc_torch_cnn, cc_digits, tmp_path) -> None:
    compiler = TFLiteCompiler(cc_digits, tmp_path / "m.tflite")
    with pytest.raises(
        ConfigurationError, match="takes keras models; PyTorchDigitsCNN is a torch"
    ):
        compiler.compile_wrapper(cc_torch_cnn)

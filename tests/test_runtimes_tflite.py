"""TFLiteRuntime: target-side steps, batch resizing, delegates, interpreter fallback."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_compilers import cc_digits, cc_tf_cnn  # noqa: F401 - fixtures

from kenning.compilers.tflite import TFLiteCompiler
from kenning.core.iospec import IOSpec
from kenning.runtimes.tflite import TFLiteRuntime
from kenning.utils.errors import ConfigurationError, ModelError


@pytest.fixture(scope="module")
def int8_tflite(cc_tf_cnn, cc_digits, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tflite") / "digits.int8.tflite"
    TFLiteCompiler(
        cc_digits,
        path,
        target="int8",
        inference_input_type="int8",
        inference_output_type="int8",
        calibration_samples=50,
    ).compile_wrapper(cc_tf_cnn)
    return path


def test_target_side_bytes_are_quantised(int8_tflite, cc_digits, tmp_path) -> None:
    target = tmp_path / "board" / "model.tflite"
    target.parent.mkdir()
    shutil.copy(IOSpec.path_for(int8_tflite), IOSpec.path_for(target))
    runtime = TFLiteRuntime(target, num_threads=1)
    runtime.prepare_model(int8_tflite.read_bytes())
    spec = IOSpec.load(int8_tflite)
    x, _ = cc_digits.load_subset("validation")
    data = spec.inputs_to_bytes([x[:5]])
    assert len(data) == 5 * 64  # one int8 byte per pixel
    runtime.prepare_input(data)
    runtime.run()
    raw = runtime.upload_output()
    assert len(raw) == 5 * 10
    probabilities = spec.outputs_from_bytes(raw)[0]
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.05)
    # batch size changes between calls resize the interpreter's tensors
    assert runtime.infer([x[:1]])[0].shape == (1, 10)
    assert runtime.infer([x[:9]])[0].shape == (9, 10)


def test_bad_delegate_is_named(int8_tflite) -> None:
    runtime = TFLiteRuntime(delegates_list=["libnosuchdelegate.so.1"])
    with pytest.raises(ConfigurationError, match=r"libnosuchdelegate\.so\.1"):
        runtime.load_model(int8_tflite)


def test_not_a_model(int8_tflite, tmp_path) -> None:
    path = tmp_path / "junk.tflite"
    path.write_bytes(b"garbage" * 10)
    shutil.copy(IOSpec.path_for(int8_tflite), IOSpec.path_for(path))
    with pytest.raises(ModelError, match=r"junk\.tflite is not a TFLite model"):
        TFLiteRuntime().load_model(path)


def test_falls_back_to_tf_lite(int8_tflite, cc_digits) -> None:
    code = f"""
import sys, warnings
sys.modules["ai_edge_litert"] = None
sys.modules["ai_edge_litert.interpreter"] = None
sys.modules["tflite_runtime"] = None
sys.modules["tflite_runtime.interpreter"] = None
warnings.simplefilter("ignore")
import numpy as np
from kenning.runtimes.tflite import TFLiteRuntime
rt = TFLiteRuntime()
rt.load_model({str(int8_tflite)!r})
print(rt.get_framework_and_version()[0])
print(rt.infer([np.zeros((2, 8, 8, 1), np.float32)])[0].shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["tensorflow.lite", "(2,", "10)"]

"""ONNXRuntime: target-side steps, host-side infer, and bad input."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest_compilers import (  # noqa: F401 - fixtures
    TORCH_EXPORT_WARNINGS,
    cc_digits,
    cc_models,
    cc_tf_cnn,
    cc_torch_cnn,
)

from kenning.compilers.onnx import ONNXCompiler
from kenning.core.iospec import IOSpec
from kenning.runtimes.onnxruntime import ONNXRuntime
from kenning.utils.errors import ConfigurationError, ModelError

pytestmark = TORCH_EXPORT_WARNINGS


@pytest.fixture(scope="module")
def torch_onnx(cc_torch_cnn, cc_digits, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ort") / "digits.onnx"
    ONNXCompiler(cc_digits, path).compile_wrapper(cc_torch_cnn)
    return path


def test_target_side_steps_match_host_infer(torch_onnx, cc_torch_cnn, cc_digits, tmp_path):
    # the target receives the model as bytes and the specification beside it
    target = tmp_path / "target" / "model.onnx"
    target.parent.mkdir()
    shutil.copy(IOSpec.path_for(torch_onnx), IOSpec.path_for(target))
    runtime = ONNXRuntime(target, num_threads=1)
    runtime.prepare_model(torch_onnx.read_bytes())
    x, _ = cc_digits.load_subset("validation")
    batch = cc_torch_cnn.preprocess_input(x[:7])
    spec = IOSpec.load(torch_onnx)
    runtime.prepare_input(spec.inputs_to_bytes([batch]))
    runtime.run()
    out = spec.outputs_from_bytes(runtime.upload_output())[0]
    assert out.shape == (7, 10)
    np.testing.assert_allclose(out, runtime.infer([batch])[0])
    reference = cc_torch_cnn.run_inference(batch)
    np.testing.assert_allclose(out, reference, atol=1e-4)


def test_unknown_execution_provider(torch_onnx) -> None:
    runtime = ONNXRuntime(execution_providers=["NoSuchExecutionProvider"])
    with pytest.raises(ConfigurationError, match="--execution-providers: NoSuchExecutionProvider"):
        runtime.load_model(torch_onnx)


def test_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00garbage")
    spec = IOSpec.model_validate({"inputs": [], "outputs": []})
    spec.save(path)
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        ONNXRuntime().load_model(path)


def test_missing_spec(tmp_path: Path, torch_onnx) -> None:
    lonely = tmp_path / "lonely.onnx"
    shutil.copy(torch_onnx, lonely)
    with pytest.raises(ModelError, match="no I/O specification"):
        ONNXRuntime().load_model(lonely)


def test_infer_before_load() -> None:
    with pytest.raises(ConfigurationError, match="load_model"):
        ONNXRuntime().infer([np.zeros((1, 1, 8, 8), np.float32)])

"""PyTorchCompiler (torch.export) and PyTorchRuntime on the digits CNN."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest_compilers import (  # noqa: F401 - fixtures
    TORCH_EXPORT_WARNINGS,
    cc_digits,
    cc_tf_cnn,
    cc_torch_cnn,
    compiled_accuracy,
)

from kenning.compilers.pytorch import PyTorchCompiler
from kenning.core.iospec import IOSpec
from kenning.runtimes.pytorch import PyTorchRuntime
from kenning.utils.errors import ConfigurationError, ModelError

pytestmark = TORCH_EXPORT_WARNINGS


def test_exported_program_matches_source(cc_torch_cnn, cc_digits, tmp_path) -> None:
    compiler = PyTorchCompiler(cc_digits, tmp_path / "digits.pt2")
    source, compiled = compiled_accuracy(cc_torch_cnn, compiler, PyTorchRuntime(), cc_digits)
    assert compiled == source


def test_target_side_steps_and_batches(cc_torch_cnn, cc_digits, tmp_path) -> None:
    artifact = tmp_path / "digits.pt2"
    PyTorchCompiler(cc_digits, artifact).compile_wrapper(cc_torch_cnn)
    target = tmp_path / "board" / "model.pt2"
    target.parent.mkdir()
    shutil.copy(IOSpec.path_for(artifact), IOSpec.path_for(target))
    runtime = PyTorchRuntime(target, num_threads=1)
    runtime.prepare_model(artifact.read_bytes())
    x, _ = cc_digits.load_subset("validation")
    spec = IOSpec.load(artifact)
    for batch in (1, 5):
        inputs = cc_torch_cnn.preprocess_input(x[:batch])
        runtime.prepare_input(spec.inputs_to_bytes([inputs]))
        runtime.run()
        out = spec.outputs_from_bytes(runtime.upload_output())[0]
        np.testing.assert_allclose(out, cc_torch_cnn.run_inference(inputs), atol=1e-5)


def test_keras_model_is_refused(cc_tf_cnn, tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="takes torch models; TensorFlowDigitsCNN"):
        PyTorchCompiler(None, tmp_path / "m.pt2").compile_wrapper(cc_tf_cnn)


def test_not_a_program(cc_torch_cnn, tmp_path) -> None:
    path = tmp_path / "digits.pt2"
    path.write_bytes(b"not a zip")
    spec = cc_torch_cnn.get_io_specification()
    with pytest.raises(ModelError, match=r"digits\.pt2 is not a torch.export program"):
        PyTorchCompiler(None, tmp_path / "out.pt2").compile(path, spec)
    spec.save(path)
    with pytest.raises(ModelError, match=r"digits\.pt2 is not a torch.export program"):
        PyTorchRuntime().load_model(path)

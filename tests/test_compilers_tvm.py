"""TVMCompiler: host llvm, tuned with a cached budget, aarch64 cross-build, .tar, bad input."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import shutil
import subprocess

import pytest
from capabilities import requires
from conftest_compilers import (  # noqa: F401 - fixtures
    TORCH_EXPORT_WARNINGS,
    cc_digits,
    cc_models,
    cc_tf_cnn,
    cc_torch_cnn,
    compiled_accuracy,
)

from kenning.compilers.tvm import TVMCompiler
from kenning.core.iospec import IOSpec
from kenning.runtimes.tvm import TVMRuntime
from kenning.utils.errors import ConfigurationError, ModelError

pytestmark = TORCH_EXPORT_WARNINGS

needs_aarch64_gcc = requires(
    "aarch64-gcc",
    shutil.which("aarch64-linux-gnu-g++") is not None,
    "needs g++-aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu)",
)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_llvm_keeps_accuracy(framework, cc_models, cc_digits, tmp_path) -> None:
    compiler = TVMCompiler(cc_digits, tmp_path / "model.so", target="llvm")
    source, compiled = compiled_accuracy(cc_models[framework], compiler, TVMRuntime(), cc_digits)
    assert abs(compiled - source) <= 0.02, (source, compiled)
    assert IOSpec.load(tmp_path / "model.so").inputs[0].shape[0] == -1


@pytest.mark.slow
def test_tuned_keeps_accuracy_and_reuses_records(cc_torch_cnn, cc_digits, tmp_path) -> None:
    cache = tmp_path / "cache"
    first = TVMCompiler(
        cc_digits, tmp_path / "a.so", target="host", tune_trials=6, tuning_cache_dir=cache
    )
    source, compiled = compiled_accuracy(cc_torch_cnn, first, TVMRuntime(), cc_digits)
    assert abs(compiled - source) <= 0.02, (source, compiled)
    assert first.tuning_reused is False
    assert first.tuning_dir is not None and first.tuning_dir.parent == cache
    records = first.tuning_dir / "database_tuning_record.json"
    assert records.read_text().count("\n") >= 6  # at least one measured trial per task
    # the same model for the same target: records are applied, nothing is tuned again
    second = TVMCompiler(
        cc_digits, tmp_path / "b.so", target="host", tune_trials=6, tuning_cache_dir=cache
    )
    _, again = compiled_accuracy(cc_torch_cnn, second, TVMRuntime(), cc_digits)
    assert second.tuning_reused is True and second.tuning_dir == first.tuning_dir
    assert again == compiled


@needs_aarch64_gcc
def test_aarch64_is_an_aarch64_elf(cc_torch_cnn, cc_digits, tmp_path) -> None:
    path = tmp_path / "model-aarch64.so"
    TVMCompiler(cc_digits, path, target="aarch64").compile_wrapper(cc_torch_cnn)
    kind = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True, check=True)
    assert "ELF 64-bit" in kind.stdout and "ARM aarch64" in kind.stdout, kind.stdout
    assert IOSpec.path_for(path).is_file()


def test_target_given_as_json_dict(cc_torch_cnn, cc_digits, tmp_path) -> None:
    target = '{"kind": "llvm", "mtriple": "aarch64-linux-gnu"}'
    path = tmp_path / "model.tar"
    TVMCompiler(cc_digits, path, target=target).compile_wrapper(cc_torch_cnn)
    members = subprocess.run(["tar", "tf", str(path)], capture_output=True, text=True, check=True)
    assert ".o" in members.stdout  # objects to link on the target, no cross compiler needed


def test_tar_links_on_load(cc_torch_cnn, cc_digits, tmp_path) -> None:
    compiler = TVMCompiler(cc_digits, tmp_path / "model.tar", target="llvm")
    source, compiled = compiled_accuracy(cc_torch_cnn, compiler, TVMRuntime(), cc_digits)
    assert abs(compiled - source) <= 0.02


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("riscv", "--target 'riscv' is unknown"),
        ("{not json", "is not valid JSON"),
        ('{"kind": "no-such-kind"}', "is not a TVM target"),
    ],
)
def test_unknown_target(target, message, cc_torch_cnn, cc_digits, tmp_path) -> None:
    compiler = TVMCompiler(cc_digits, tmp_path / "m.so", target=target)
    with pytest.raises(ConfigurationError, match=message):
        compiler.compile_wrapper(cc_torch_cnn)


def test_cannot_tune_for_another_machine(cc_torch_cnn, cc_digits, tmp_path) -> None:
    compiler = TVMCompiler(cc_digits, tmp_path / "m.tar", target="aarch64", tune_trials=8)
    with pytest.raises(ConfigurationError, match="cannot tune for"):
        compiler.compile_wrapper(cc_torch_cnn)


def test_missing_cross_compiler(cc_torch_cnn, cc_digits, tmp_path) -> None:
    compiler = TVMCompiler(
        cc_digits, tmp_path / "m.so", target="aarch64", cross_compiler="no-such-g++"
    )
    with pytest.raises(ConfigurationError, match="links with no-such-g\\+\\+, which is not"):
        compiler.compile_wrapper(cc_torch_cnn)


def test_unsupported_operator_is_named(tmp_path) -> None:
    import onnx

    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("CenterCropPad", ["x", "shape"], ["y"])],
        "crop",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2, 2])],
        [helper.make_tensor("shape", onnx.TensorProto.INT64, [2], [2, 2])],
    )
    path = tmp_path / "crop.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(ModelError, match=r"TVM cannot import .*crop\.onnx.*CenterCropPad"):
        TVMCompiler(None, tmp_path / "m.so").compile(path, None)  # type: ignore[arg-type]


def test_not_a_model(tmp_path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelError, match=r"model\.onnx is not a valid ONNX model"):
        TVMCompiler(None, tmp_path / "m.so").compile(path, None)  # type: ignore[arg-type]

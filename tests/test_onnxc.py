"""The onnx-c compiler: ONNX -> C built with the host's cc and compared with ONNX Runtime.

Every model is made here with onnx.helper (or exported from the trained digits CNN); the
generated model.c and kenning_model.c are compiled with a small driver that runs one
sample through ``kenning_model_run``, exactly as the firmware's server calls it.
"""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest_compilers import TORCH_EXPORT_WARNINGS, cc_digits  # noqa: F401 - fixtures
from onnx import TensorProto, helper, numpy_helper
from ownmodels import onnx_mlp

from kenning.compilers.mcufootprint import check_fits, elf_footprint, model_needs
from kenning.compilers.onnxc import ONNXToCCompiler
from kenning.core.formats import FORMATS
from kenning.core.iospec import IOSpec
from kenning.core.registry import load_class
from kenning.utils.errors import ConfigurationError, MissingDependencyError, ModelError

CC = shutil.which("cc")
ARM_GCC = shutil.which("arm-none-eabi-gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no host C compiler (cc)")

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "kenning_model.h"

static void *slurp(const char *path, size_t want) {
    FILE *f = fopen(path, "rb");
    void *buffer = malloc(want + 8);  /* malloc aligns to at least 8 bytes */
    if (!f || !buffer || fread(buffer, 1, want + 1, f) != want) { return NULL; }
    fclose(f);
    return buffer;
}

int main(int argc, char **argv) {
    if (argc == 2) {  /* info */
        printf("%s\n", kenning_model_name);
        for (int i = 0; i < 32; ++i) printf("%02x", kenning_model_sha256[i]);
        printf("\n%u %u\n", (unsigned)kenning_model_input_bytes,
               (unsigned)kenning_model_output_bytes);
        return 0;
    }
    const uint8_t *input = slurp(argv[1], kenning_model_input_bytes);
    uint8_t *output = malloc(kenning_model_output_bytes + 8);
    if (!input || !output) { fprintf(stderr, "bad input file\n"); return 2; }
    kenning_model_run(input, output);
    FILE *f = fopen(argv[2], "wb");
    fwrite(output, 1, kenning_model_output_bytes, f);
    fclose(f);
    return 0;
}
"""


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _weights(rng: np.random.Generator, name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)


def conv_net(folder: Path) -> Path:
    """Conv, Relu, MaxPool, Flatten, Gemm on a free batch of 3x8x8 images."""
    rng = np.random.default_rng(3)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"]),
            helper.make_node("Gemm", ["f", "fc", "fb"], ["logits"], transB=1),
        ],
        "conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 5])],
        [_weights(rng, "w", 4, 3, 3, 3), _weights(rng, "b", 4),
         _weights(rng, "fc", 5, 64), _weights(rng, "fb", 5)],
    )  # fmt: skip
    return _save(graph, folder / "conv.onnx")


def mixed_io(folder: Path) -> Path:
    """Three inputs and three outputs of five dtypes, a scalar among them; packed after a
    uint8 input, the float input sits at an unaligned byte offset."""
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["a"], ["af"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["af", "b"], ["s"]),
            helper.make_node("Cast", ["s"], ["y64"], to=TensorProto.INT64),
            helper.make_node("ReduceSum", ["s"], ["total"], keepdims=0),
            helper.make_node("Cast", ["c"], ["c32"], to=TensorProto.INT32),
        ],
        "mixed",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, ["n", 3]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", 3]),
         helper.make_tensor_value_info("c", TensorProto.INT8, ["n", 5])],
        [helper.make_tensor_value_info("y64", TensorProto.INT64, ["n", 3]),
         helper.make_tensor_value_info("total", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("c32", TensorProto.INT32, ["n", 5])],
    )  # fmt: skip
    return _save(graph, folder / "mixed.onnx")


def big_matmul(folder: Path, features: int = 300, units: int = 256) -> Path:
    """x @ W with a W of features*units float32 (300 KB by default)."""
    rng = np.random.default_rng(1)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", units])],
        [_weights(rng, "w", features, units)],
    )
    return _save(graph, folder / "big.onnx")


def wide_activations(folder: Path, size: int = 128) -> Path:
    """1x64xSIZExSIZE float32 through two Relus and a 1x1 Conv of 64x2 weights."""
    rng = np.random.default_rng(2)
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r1"]),
            helper.make_node("Relu", ["r1"], ["r2"]),
            helper.make_node("Conv", ["r2", "w"], ["y"]),
        ],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2, size, size])],
        [_weights(rng, "w", 2, 64, 1, 1)],
    )
    return _save(graph, folder / "wide.onnx")


def compile_c(model: Path, folder: Path, **flags: int) -> IOSpec:
    spec = IOSpec(inputs=[], outputs=[])
    return ONNXToCCompiler(None, folder, **flags).compile(model, spec)


def build_driver(folder: Path) -> Path:
    """The generated model and glue linked with :data:`DRIVER` by the host's cc."""
    (folder.parent / "driver.c").write_text(DRIVER)
    glue = folder.parent / "kenning_model.o"
    strict = [CC, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{folder}"]
    subprocess.run([*strict, "-c", str(folder / "kenning_model.c"), "-o", str(glue)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    exe = folder.parent / "driver"
    subprocess.run(
        [CC, "-std=c99", "-O2", f"-I{folder}", str(folder.parent / "driver.c"),
         str(folder / "model.c"), str(glue), "-lm", "-o", str(exe)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return exe


def run_driver(exe: Path, spec: IOSpec, inputs: list[np.ndarray]) -> list[np.ndarray]:
    source, target = exe.parent / "in.bin", exe.parent / "out.bin"
    source.write_bytes(spec.inputs_to_bytes(inputs))
    subprocess.run([str(exe), str(source), str(target)], check=True, timeout=60)
    return spec.outputs_from_bytes(target.read_bytes())


def onnxruntime_outputs(model: Path, spec: IOSpec, inputs: list[np.ndarray]) -> list:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feed = {t.name: a for t, a in zip(spec.inputs, inputs, strict=True)}
    return session.run([t.name for t in spec.outputs], feed)


def random_inputs(spec: IOSpec, rng: np.random.Generator) -> list[np.ndarray]:
    arrays = []
    for tensor in spec.inputs:
        shape = tensor.concrete_shape(1)
        if tensor.dtype == "float32":
            arrays.append(rng.normal(0, 1, shape).astype(np.float32))
        else:
            info = np.iinfo(tensor.dtype)
            arrays.append(rng.integers(max(info.min, -100), min(info.max, 100), shape,
                                       dtype=tensor.dtype))  # fmt: skip
    return arrays


@needs_cc
@pytest.mark.parametrize("make", [onnx_mlp, conv_net, mixed_io])
def test_generated_c_matches_onnxruntime(make, tmp_path: Path) -> None:
    model = make(tmp_path / "src")
    folder = tmp_path / "out" / f"{model.stem}.onnx-c"
    spec = compile_c(model, folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "kenning_model.c", "kenning_model.h", "model.c", "model.json",
    ]  # fmt: skip
    assert IOSpec.load(folder) == spec  # beside the folder: out/NAME.onnx-c.iospec.json
    assert (tmp_path / "out" / f"{model.stem}.onnx-c.iospec.json").is_file()
    assert all(t.shape[0] == -1 for t in spec.inputs)  # the batch stays free, as in ONNX
    exe = build_driver(folder)
    rng = np.random.default_rng(0)
    for _ in range(5):
        inputs = random_inputs(spec, rng)
        produced = run_driver(exe, spec, inputs)
        expected = onnxruntime_outputs(model, spec, inputs)
        for got, want in zip(produced, expected, strict=True):
            assert got.shape == np.asarray(want).shape
            assert np.max(np.abs(got.astype(np.float64) - want)) < 1e-4


@needs_cc
def test_identity_and_sizes_in_the_c_agree_with_the_file(tmp_path: Path) -> None:
    model = mixed_io(tmp_path / "src")
    folder = tmp_path / "mixed.onnx-c"
    spec = compile_c(model, folder)
    exe = build_driver(folder)
    info = subprocess.run([str(exe), "info"], check=True, capture_output=True, text=True)
    name, digest, sizes = info.stdout.splitlines()
    assert name == "mixed"
    assert digest == hashlib.sha256(model.read_bytes()).hexdigest()
    assert sizes == "20 48"  # 3 + 12 + 5 in; 24 + 4 + 20 out
    summary = json.loads((folder / "model.json").read_text())
    assert summary["onnx_sha256"] == digest
    assert summary["onnx_name"] == "mixed.onnx"
    assert summary["emx_onnx_cgen_version"] == "1.4.0"
    assert [t["bytes"] for t in summary["inputs"]] == [3, 12, 5]
    assert summary["io_bytes"] == 68 == sum(t.sample_size() for t in spec.inputs + spec.outputs)
    assert summary["weights_bytes"] == 0
    assert summary["activations_bytes"] == 24  # af and s: 1x3 float32 each
    assert "memcpy(input1, input + 3, 12);" in (folder / "kenning_model.c").read_text()


def test_footprint_from_onnx_agrees_with_the_generator(tmp_path: Path) -> None:
    model = conv_net(tmp_path)
    needs = model_needs(model)
    assert needs["weights_bytes"] == 4 * (4 * 3 * 3 * 3 + 4 + 5 * 64 + 5)
    # c, r (1x4x8x8), p, f (1x4x4x4 and 1x64), float32
    assert needs["activations_bytes"] == 4 * (256 + 256 + 64 + 64)
    assert needs["io_bytes"] == 4 * (3 * 8 * 8 + 5)
    summary = compile_c(model, tmp_path / "conv.onnx-c") and json.loads(
        (tmp_path / "conv.onnx-c" / "model.json").read_text()
    )
    assert summary["activations_bytes"] == needs["activations_bytes"]
    assert summary["weights_bytes"] == needs["weights_bytes"]


def test_weights_over_the_flash_are_refused_before_generation(tmp_path: Path) -> None:
    model = big_matmul(tmp_path)
    folder = tmp_path / "big.onnx-c"
    with pytest.raises(ConfigurationError) as caught:
        compile_c(model, folder, flash_bytes=262144, ram_bytes=4194304)
    assert "307,200 bytes of flash" in str(caught.value)
    assert "has 262,144" in str(caught.value)
    assert not folder.exists() and not IOSpec.path_for(folder).exists()


@pytest.mark.parametrize(("size", "ram"), [(16, 65536), (128, 4194304)])
def test_activations_over_the_ram_are_refused_before_generation(
    tmp_path: Path, size: int, ram: int
) -> None:
    model = wide_activations(tmp_path, size)
    folder = tmp_path / "wide.onnx-c"
    activations = 2 * 64 * size * size * 4  # the two Relus' outputs
    assert model_needs(model)["activations_bytes"] == activations
    with pytest.raises(ConfigurationError) as caught:
        compile_c(model, folder, flash_bytes=4194304, ram_bytes=ram)
    message = str(caught.value)
    assert f"activations need {activations:,} bytes of RAM" in message
    assert f"has {ram:,}" in message and "flash" not in message.split(";")[0]
    assert not folder.exists()


def test_check_fits_names_the_board_and_both_limits() -> None:
    needs = {"weights_bytes": 2_345_678, "activations_bytes": 5_000_000, "io_bytes": 296}
    with pytest.raises(ConfigurationError) as caught:
        check_fits(needs, 4_194_304, 4_194_304, board="mps2-an386")
    message = str(caught.value)
    assert "weights need" not in message  # 2.3 MB + firmware fits 4 MiB of flash
    assert "5,000,000 bytes of RAM" in message and "mps2-an386 has 4,194,304" in message
    check_fits({**needs, "activations_bytes": 30_000}, 4_194_304, 4_194_304)
    with pytest.raises(ConfigurationError, match="2,345,678 bytes of flash"):
        check_fits(needs, 2_000_000, 100_000_000)


def _string_input(folder: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["text"], ["same"])],
        "strings",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["n", 2])],
        [helper.make_tensor_value_info("same", TensorProto.STRING, ["n", 2])],
    )
    return _save(graph, folder / "strings.onnx")


def _double_input(folder: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "doubles",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["n", 3])],
    )
    return _save(graph, folder / "doubles.onnx")


@pytest.mark.parametrize(
    ("make", "dtype"), [(_double_input, "float64"), (_string_input, "object")]
)
def test_an_unsupported_dtype_is_a_model_error(tmp_path: Path, make, dtype: str) -> None:
    model = make(tmp_path)
    folder = tmp_path / "bad.onnx-c"
    with pytest.raises(ModelError) as caught:
        compile_c(model, folder)
    message = str(caught.value)
    assert f"is {dtype}" in message and "float32" in message and "Cast" in message
    assert not folder.exists()


def test_a_generator_failure_quotes_its_output_and_leaves_nothing(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("FooBar", ["r"], ["y"], domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "custom.onnx"))
    folder = tmp_path / "out" / "custom.onnx-c"
    with pytest.raises(ModelError, match=r"exit status 1\): .*Unsupported op com.example.FooBar"):
        compile_c(tmp_path / "custom.onnx", folder)
    assert sorted((tmp_path / "out").iterdir()) == []
    with pytest.raises(ModelError, match=r"no result .* within 0\.01 s"):
        ONNXToCCompiler(None, folder, codegen_timeout=0.01).compile(
            conv_net(tmp_path), IOSpec(inputs=[], outputs=[])
        )


def test_onnx_c_is_registered_with_a_folder_format() -> None:
    assert load_class("onnx-c", "compiler") is ONNXToCCompiler
    assert FORMATS[ONNXToCCompiler.output_format].suffix == ".onnx-c"
    assert ONNXToCCompiler(None, Path("x")).get_framework_and_version() == (
        "emx-onnx-cgen", "1.4.0",
    )  # fmt: skip


@pytest.mark.skipif(ARM_GCC is None, reason="no arm-none-eabi-gcc")
def test_elf_footprint_counts_the_weights_in_flash(tmp_path: Path) -> None:
    folder = tmp_path / "conv.onnx-c"
    compile_c(conv_net(tmp_path), folder)
    objects = []
    for source in ("model.c", "kenning_model.c"):
        objects.append(tmp_path / f"{source}.o")
        subprocess.run(
            [ARM_GCC, "-std=c99", "-O2", "-mcpu=cortex-m4", "-mthumb", f"-I{folder}",
             "-c", str(folder / source), "-o", str(objects[-1])],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    combined = tmp_path / "model.o"
    subprocess.run(["arm-none-eabi-ld", "-r", *map(str, objects), "-o", str(combined)],
                   check=True, timeout=60)  # fmt: skip
    sizes = elf_footprint(combined)
    weights = json.loads((folder / "model.json").read_text())["weights_bytes"]
    assert sizes["rodata"] >= weights and sizes["text"] > 0
    assert sizes["flash"] == sizes["text"] + sizes["rodata"] + sizes["data"]
    assert sizes["ram"] == sizes["data"] + sizes["bss"] + sizes["stack"] + sizes["heap"]
    with pytest.raises(MissingDependencyError, match="gcc-arm-none-eabi"):
        elf_footprint(combined, tool="no-such-arm-none-eabi-size")


@needs_cc
@pytest.mark.slow
@TORCH_EXPORT_WARNINGS
def test_digits_cnn_from_torch(torch_digits_model: Path, cc_digits, tmp_path: Path) -> None:
    from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN

    wrapper = PyTorchDigitsCNN(torch_digits_model, cc_digits, from_file=True)
    wrapper.prepare_model()
    folder = tmp_path / "digits.onnx-c"
    spec = ONNXToCCompiler(cc_digits, folder).compile_wrapper(wrapper)
    signature = (
        "void kenning_net(const float input[restrict 1][1][8][8], float output[restrict 1][10])"
    )
    assert signature in (folder / "model.c").read_text()
    summary = json.loads((folder / "model.json").read_text())
    source = tmp_path / "digits.src.onnx"
    needs = model_needs(source)
    assert (summary["weights_bytes"], summary["activations_bytes"]) == (
        needs["weights_bytes"], needs["activations_bytes"],
    )  # fmt: skip
    # conv 16x8x8, relu, conv 32x8x8, relu, pool 32x4x4, flatten 512, fc 64, relu: float32
    assert summary["activations_bytes"] == 29184
    assert summary["onnx_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    exe = build_driver(folder)
    inputs = random_inputs(spec, np.random.default_rng(4))
    produced = run_driver(exe, spec, inputs)[0]
    expected = onnxruntime_outputs(source, spec, inputs)[0]
    assert np.max(np.abs(produced - expected)) < 1e-4

"""Will a model fit a microcontroller: its needs from the ONNX file, and a built ELF's sizes.

:func:`model_needs` reads weights, activations and I/O bytes from the ONNX graph alone
(batch pinned to 1), so :func:`check_fits` refuses a model too large for a board before
any C is generated or built. :func:`elf_footprint` measures what a firmware build really
takes, from ``arm-none-eabi-size -A``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kenning.core.iospec import IOSpec
from kenning.frameworks.onnx import load_onnx, onnx_io_spec
from kenning.utils.errors import ConfigurationError, MissingToolError, ModelError
from kenning.utils.imports import require

#: flash the firmware takes besides the model: protocol server, HAL, libc, libm (bytes)
FIRMWARE_FLASH_BYTES = 64 * 1024
#: RAM the firmware takes besides the model: protocol buffers, driver state, libc (bytes)
FIRMWARE_RAM_BYTES = 16 * 1024
#: stack the firmware's own call chain needs on top of the model's temporaries (bytes)
STACK_RESERVE_BYTES = 4 * 1024
#: seconds ``arm-none-eabi-size`` gets for one ELF
SIZE_TIMEOUT_S = 60.0

#: ``size -A`` section name prefixes counted in each group (names of targets/mcu/boards/*.ld,
#: which fold .rodata into .text and leave the heap the rest of RAM, and of newlib's and
#: CMSIS' usual scripts); sections in no group (debug, .comment, .ARM.attributes) take no
#: memory on the board
_SECTIONS = {
    "text": (".text", ".isr_vector", ".vectors", ".init", ".fini", ".ARM.exidx", ".ARM.extab"),
    "rodata": (".rodata", ".preinit_array", ".init_array", ".fini_array"),
    "data": (".data",),
    "bss": (".bss", ".noinit"),
    "stack": (".stack", ".handler_stack"),
    "heap": (".heap",),
}


def pinned_model(model: Any, spec: IOSpec) -> Any:
    """A copy of ``model`` with every free input dimension fixed (batch 1, others from ``spec``).

    Raises
    ------
    ModelError
        If an input dimension is free in both the graph and ``spec`` (beyond the batch).
    """
    onnx = require("onnx", "mcu")
    pinned = onnx.ModelProto()
    pinned.CopyFrom(model)
    del pinned.graph.value_info[:]  # shapes exported for a free batch would clash with 1
    inputs = {t.name: t for t in spec.inputs}
    for value in pinned.graph.input:
        if value.name not in inputs:  # an initializer listed as an input
            continue
        shape = inputs[value.name].concrete_shape(1)
        for dim, size in zip(value.type.tensor_type.shape.dim, shape, strict=True):
            dim.dim_value = size
    return pinned


def tensor_bytes(elem_type: int, dims: list[int]) -> int:
    """Bytes of a tensor of ONNX type ``elem_type`` and shape ``dims`` (0 for strings)."""
    onnx = require("onnx", "mcu")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    return 0 if dtype.kind in "OSU" else math.prod(dims) * dtype.itemsize


def model_needs(onnx_path: Path, io_spec: IOSpec | None = None) -> dict[str, Any]:
    """Flash and RAM a model needs on a board, from its ONNX file alone, for one sample.

    Parameters
    ----------
    onnx_path : Path
        The model.
    io_spec : IOSpec, optional
        The source model's specification, for free dimensions other than the batch.

    Returns
    -------
    dict
        ``weights_bytes`` (initializers and Constant nodes: flash), ``activations_bytes``
        (every intermediate tensor: the generated code keeps each in its own stack array,
        so their sum bounds the stack the model needs), ``io_bytes`` (one input and one
        output sample) and ``unsized`` (intermediate tensors ONNX shape inference could
        not size: the activations are then a lower bound).

    Raises
    ------
    ModelError
        If the file is not a valid ONNX model or a non-batch input dimension is unknown.
    """
    onnx = require("onnx", "mcu")
    path = Path(onnx_path)
    model = load_onnx(path)
    spec = onnx_io_spec(model, io_spec, path)
    try:
        inferred = onnx.shape_inference.infer_shapes(pinned_model(model, spec), data_prop=True)
    except Exception as exc:  # onnx raises its own InferenceError and plain RuntimeErrors
        raise ModelError(f"ONNX shape inference fails on {path}: {exc}", path) from exc
    graph = inferred.graph
    weights = sum(tensor_bytes(t.data_type, list(t.dims)) for t in graph.initializer)
    weights += sum(
        tensor_bytes(a.t.data_type, list(a.t.dims))
        for node in graph.node
        if node.op_type == "Constant"
        for a in node.attribute
        if a.name == "value"
    )
    outer = {v.name for v in (*graph.input, *graph.output)} | {t.name for t in graph.initializer}
    activations, unsized = 0, []
    for value in graph.value_info:
        if value.name in outer or not value.type.HasField("tensor_type"):
            continue
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            activations += tensor_bytes(
                value.type.tensor_type.elem_type, [d.dim_value for d in dims]
            )
        else:
            unsized.append(value.name)
    io = sum(t.sample_size() for t in (*spec.inputs, *spec.outputs))
    return {
        "weights_bytes": weights,
        "activations_bytes": activations,
        "io_bytes": io,
        "unsized": unsized,
    }


def activations_bytes(shapes: Path) -> int:
    """Bytes of every intermediate tensor in an emx-onnx-cgen shape report.

    Code generated with ``--large-temp-threshold 0`` keeps each in its own stack array of
    one function, so the sum bounds that function's frame.

    Raises
    ------
    ModelError
        If an intermediate tensor has no static shape.
    """
    onnx = require("onnx", "mcu")
    report = json.loads(shapes.read_text())
    total = 0
    for name, entry in report["tensors"].items():
        if entry.get("kind") != "internal":
            continue
        inferred = entry.get("inferred") or {}
        dims, dtype = inferred.get("dims"), inferred.get("dtype", "")
        if not isinstance(dims, list) or not all(isinstance(d, int) for d in dims):
            raise ModelError(f"emx-onnx-cgen gives tensor {name} no static shape: {dims}")
        elem = getattr(onnx.TensorProto, str(dtype).upper(), None)  # ONNX's names: "float"
        if not isinstance(elem, int):
            raise ModelError(f"emx-onnx-cgen gives tensor {name} an unknown type: {dtype}")
        total += tensor_bytes(elem, dims)
    return total


def check_fits(
    model_json: Mapping[str, Any],
    flash_bytes: int,
    ram_bytes: int,
    firmware_flash_bytes: int = FIRMWARE_FLASH_BYTES,
    firmware_ram_bytes: int = FIRMWARE_RAM_BYTES,
    board: str = "",
    stack_reserve_bytes: int = STACK_RESERVE_BYTES,
) -> None:
    """Refuse a model whose weights exceed a board's flash or whose buffers exceed its RAM.

    Flash holds the weights and the firmware's code; RAM holds the activations (on the
    stack), one input and one output sample, the firmware's own data and a stack reserve.

    Parameters
    ----------
    model_json : mapping
        ``weights_bytes``, ``activations_bytes`` and ``io_bytes`` (``model.json`` of the
        onnx-c compiler, or :func:`model_needs`).
    flash_bytes, ram_bytes : int
        The board's flash and RAM.
    firmware_flash_bytes, firmware_ram_bytes : int
        Estimates of what the firmware takes besides the model.
    board : str
        The board's name, for the message.
    stack_reserve_bytes : int
        Stack the firmware's call chain needs besides the model's temporaries.

    Raises
    ------
    ConfigurationError
        If the model does not fit; the message gives what it needs and what the board has.
    """
    where = f"the board {board}" if board else "the board"
    weights = int(model_json["weights_bytes"])
    flash_need = weights + firmware_flash_bytes
    problems = []
    if flash_need > flash_bytes:
        problems.append(
            f"the model's weights need {weights:,} bytes of flash ({flash_need:,} with "
            f"{firmware_flash_bytes:,} for the firmware's code); {where} has {flash_bytes:,}: "
            "use a smaller or int8-quantised model, or a board with more flash"
        )
    activations, io = int(model_json["activations_bytes"]), int(model_json["io_bytes"])
    ram_need = activations + io + firmware_ram_bytes + stack_reserve_bytes
    if ram_need > ram_bytes:
        problems.append(
            f"the model's activations need {activations:,} bytes of RAM and its input and "
            f"output {io:,} ({ram_need:,} with {firmware_ram_bytes + stack_reserve_bytes:,} "
            f"for the firmware's data and stack); {where} has {ram_bytes:,}: use smaller "
            "inputs or fewer channels, or a board with more RAM"
        )
    if problems:
        raise ConfigurationError("; and ".join(problems))


def _size_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MissingToolError(name, "apt-get install gcc-arm-none-eabi (the Arm GNU toolchain)")
    return found


def elf_footprint(elf_path: Path, tool: str = "arm-none-eabi-size") -> dict[str, int]:
    """Bytes of flash and RAM a firmware ELF takes, section group by section group.

    ``flash`` is text + rodata + data: initialised data is stored in flash and copied to
    RAM at start-up, so it counts in both (conservative: a RAM-loaded image would not
    keep the copy). ``ram`` is data + bss + stack + heap, the stack and heap being the
    sections the linker script reserves (``.stack`` and ``.handler_stack``, ``.heap``;
    a heap that is only "the rest of RAM", as in targets/mcu/boards/*.ld, counts 0).
    Linker scripts that place .rodata inside .text, as those do, give ``rodata`` 0.

    Parameters
    ----------
    elf_path : Path
        A linked firmware (an object file works too).
    tool : str
        The ``size`` of the ELF's binutils.

    Returns
    -------
    dict
        ``text``, ``rodata``, ``data``, ``bss``, ``stack``, ``heap``, ``flash``, ``ram``.

    Raises
    ------
    MissingToolError
        If ``tool`` is not installed.
    ConfigurationError
        If it cannot read ``elf_path``.
    """
    size = _size_tool(tool)
    try:
        done = subprocess.run(
            [size, "-A", "-d", str(elf_path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=SIZE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigurationError(
            f"{tool} gave no answer on {elf_path} in {SIZE_TIMEOUT_S:g} s"
        ) from exc
    if done.returncode != 0:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:])
        raise ConfigurationError(f"{tool} cannot read {elf_path}: {tail}")
    found = dict.fromkeys(_SECTIONS, 0)
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) != 3 or not fields[1].isdigit():
            continue
        for group, prefixes in _SECTIONS.items():
            if any(fields[0] == p or fields[0].startswith(p + ".") for p in prefixes):
                found[group] += int(fields[1])
                break
    found["flash"] = found["text"] + found["rodata"] + found["data"]
    found["ram"] = found["data"] + found["bss"] + found["stack"] + found["heap"]
    return found

"""ONNX files: load and check one, save one, and read its inputs and outputs from the graph.

Every compiler that starts from ONNX and the ONNX model wrapper load the file here, so a
file that is not a model fails the same way, and take its I/O specification from the graph,
so tensor names match the artifact rather than the framework the model came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.utils.errors import ModelError
from kenning.utils.imports import require


def load_onnx(path: Path) -> Any:
    """Load and check an ONNX model (external weight files next to it included).

    Parameters
    ----------
    path : Path
        The ``.onnx`` file.

    Returns
    -------
    onnx.ModelProto
        The model.

    Raises
    ------
    ModelError
        If the file is missing or is not a valid ONNX model.
    """
    onnx = require("onnx", "onnxruntime")
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ONNX model {path} does not exist", path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} is not a valid ONNX model ({first})", path) from exc
    if not model.graph.node:
        raise ModelError(f"{path} is not a valid ONNX model (its graph is empty)", path)
    return model


def save_onnx(model: Any, path: Path) -> None:
    """Write ``model`` to ``path`` as one self-contained file."""
    onnx = require("onnx", "onnxruntime")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)


def external_data_files(path: Path) -> list[Path]:
    """The external data files an ONNX model's tensors name (``model.onnx.data``...), if any.

    Reads the graph without loading the data. Raises
    ------------------------------------------------
    ModelError
        If the file is not an ONNX model, or a named data file is missing.
    """
    onnx = require("onnx", "onnxruntime")
    from onnx.external_data_helper import uses_external_data

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path} is not a valid ONNX model ({exc})", path) from exc
    graphs, tensors = [model.graph], []
    while graphs:  # initialisers of subgraphs (If, Loop) may name data files too
        graph = graphs.pop()
        tensors += [t for t in graph.initializer if uses_external_data(t)]
        graphs += [a.g for node in graph.node for a in node.attribute if a.HasField("g")]
    names = sorted({e.value for t in tensors for e in t.external_data if e.key == "location"})
    files = [path.parent / name for name in names]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ModelError(
            f"{path} keeps its weights in {', '.join(missing)}, which does not exist: keep the "
            "data file(s) beside the model, under the name the model gives",
            path,
        )
    return files


def inline_external_data(source: Path, target: Path) -> None:
    """Write ``source`` with its external data as one self-contained ``target`` (under 2 GB).

    Raises
    ------
    ModelError
        If the model cannot be read or is too large for one file.
    """
    model = load_onnx(source)
    try:
        save_onnx(model, target)
    except ValueError as exc:  # protobuf refuses a message over 2 GB
        raise ModelError(
            f"{source} with its external data is too large for one ONNX file ({exc}); "
            "kenning deploys a model as one file",
            source,
        ) from exc


def tensor_dims(value: Any) -> list[int]:
    """The dimensions of a graph value (-1 where free)."""
    return [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1
        for d in value.type.tensor_type.shape.dim
    ]


def _tensor(value: Any, source: TensorSpec | None, path: Path) -> TensorSpec:
    onnx = require("onnx", "onnxruntime")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    shape = tensor_dims(value)
    if source is not None and len(source.shape) == len(shape):
        shape = [s if s != -1 else src for s, src in zip(shape, source.shape, strict=True)]
    if shape and shape[0] != -1 and source is not None and source.shape[:1] == [-1]:
        shape[0] = -1
    if -1 in shape[1:]:
        raise ModelError(
            f"{path}: tensor {value.name} has a free dimension other than the batch: {shape}; "
            f"write its shape in {IOSpec.path_for(path)}",
            path,
        )
    return TensorSpec(name=value.name, shape=shape, dtype=str(dtype))


def onnx_io_spec(model: Any, source: IOSpec | None, path: Path) -> IOSpec:
    """The I/O specification of an ONNX graph.

    Names and dtypes come from the graph; dimensions the graph leaves free
    (other than the batch) are filled from ``source``, the model wrapper's
    specification, matched by position.

    Raises
    ------
    ModelError
        If a non-batch dimension is unknown in both.
    """
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]

    def match(specs: list[TensorSpec] | None, i: int) -> TensorSpec | None:
        return specs[i] if specs is not None and i < len(specs) else None

    return IOSpec(
        inputs=[
            _tensor(v, match(source.inputs if source else None, i), path)
            for i, v in enumerate(inputs)
        ],
        outputs=[
            _tensor(v, match(source.outputs if source else None, i), path)
            for i, v in enumerate(model.graph.output)
        ],
    )


#: operators never folded: their output is not a function of their inputs

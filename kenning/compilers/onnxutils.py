"""ONNX helpers shared by the compilers that read or write ONNX files.

Every compiler that starts from ONNX (ONNX itself, ONNX Runtime quantisation,
TVM) loads the file here, so a file that is not a model fails the same way,
and takes its I/O specification from the graph, so tensor names match the
artifact rather than the framework the model came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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


def _dims(value: Any) -> list[int]:
    return [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1
        for d in value.type.tensor_type.shape.dim
    ]


def _tensor(value: Any, source: TensorSpec | None, path: Path) -> TensorSpec:
    onnx = require("onnx", "onnxruntime")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    shape = _dims(value)
    if source is not None and len(source.shape) == len(shape):
        shape = [s if s != -1 else src for s, src in zip(shape, source.shape, strict=True)]
    if shape and shape[0] != -1 and source is not None and source.shape[:1] == [-1]:
        shape[0] = -1
    if -1 in shape[1:]:
        raise ModelError(
            f"{path}: tensor {value.name} has a free dimension other than the batch: {shape}",
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
_NONDETERMINISTIC = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}
_FOLD_LIMIT = 1 << 22


def freeze_shapes(model: Any, shapes: dict[str, list[int]]) -> Any:
    """Fix input shapes and fold everything that then becomes constant.

    Exporters compute shapes at run time (``Shape`` -> ``Cast`` ->
    ``Concat`` -> ``Reshape`` for a flatten); with static input shapes those
    chains are constants, and compilers that want static shapes (TVM) get
    them as initializers.

    Parameters
    ----------
    model : onnx.ModelProto
        The model; not modified.
    shapes : dict
        Static shape of each graph input, by name.

    Returns
    -------
    onnx.ModelProto
        A new model with static inputs and folded constants.
    """
    onnx = require("onnx", "onnxruntime")
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for value in graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name], strict=True):
                dim.Clear()
                dim.dim_value = size
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    static = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = _dims(value)
        if dims and -1 not in dims:
            static[value.name] = dims
    known = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    kept = []
    for node in graph.node:
        inputs = [n for n in node.input if n]
        if node.op_type == "Shape" and node.domain == "" and inputs[0] in static:
            start = next((a.i for a in node.attribute if a.name == "start"), 0)
            end = next((a.i for a in node.attribute if a.name == "end"), None)
            known[node.output[0]] = np.asarray(static[inputs[0]][start:end], dtype=np.int64)
            continue
        foldable = (
            node.domain in ("", "ai.onnx")
            and node.op_type not in _NONDETERMINISTIC
            and all(n in known for n in inputs)
            and sum(known[n].size for n in inputs) < _FOLD_LIMIT
        )
        if not foldable:
            kept.append(node)
            continue
        single = onnx.helper.make_model(
            onnx.helper.make_graph(
                [node],
                "fold",
                [],
                [onnx.helper.make_empty_tensor_value_info(o) for o in node.output],
                [numpy_helper.from_array(known[n], n) for n in set(inputs)],
            ),
            opset_imports=model.opset_import,
        )
        for name, value in zip(node.output, ReferenceEvaluator(single).run(None, {}), strict=True):
            known[name] = np.asarray(value)
    used = {n for node in kept for n in node.input} | {o.name for o in graph.output}
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in known.items() if k in used)
    return model

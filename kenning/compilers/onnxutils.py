"""ONNX graph helpers of the compilers (shape freezing, folding).

Loading, saving and reading the I/O specification of an ONNX file live in
:mod:`kenning.frameworks.onnx`, shared with the ONNX model wrapper.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kenning.frameworks.onnx import tensor_dims
from kenning.utils.imports import require

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
        dims = tensor_dims(value)
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

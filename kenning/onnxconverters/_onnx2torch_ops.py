"""Loading onnx2torch with the converters it lacks for current exports.

onnx2torch 1.5.15 (the latest release) has no converter for the recurrent
operators (``LSTM``, ``GRU``, ``RNN``) nor for the opset-18 reductions (whose
axes became an input), and rejects ``Reshape`` with ``allowzero=1``, all of
which ``torch.onnx.export`` (opset 18) writes. They are registered here through
onnx2torch's own ``add_converter`` registry. Its detection operators (``NMS``,
``RoiAlign``) import torchvision, whose only wheels for torch 2.13 are CUDA
builds that fail to load with the CPU torch; when torchvision is absent those
two converters are left out, so such models report the operator unsupported.

Imported lazily by :mod:`kenning.onnxconverters.pytorch` (needs torch).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from kenning.core.onnxresults import UnsupportedOperatorError

if importlib.util.find_spec("torchvision") is None:
    for _name in ("nms", "roialign"):
        sys.modules.setdefault(
            f"onnx2torch.node_converters.{_name}",
            types.ModuleType(f"onnx2torch.node_converters.{_name}"),
        )

import onnx2torch
from onnx import helper, numpy_helper
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import (
    OnnxMapping,
    OnnxToTorchModule,
    OperationConverterResult,
    get_const_value,
)

convert = onnx2torch.convert

#: ONNX gate order -> PyTorch gate order, as indices of ONNX gate blocks
_GATES = {"LSTM": (4, [0, 2, 3, 1]), "GRU": (3, [1, 0, 2]), "RNN": (1, [0])}
_TORCH_RNN = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


class OnnxRecurrent(nn.Module, OnnxToTorchModule):
    """One ONNX LSTM/GRU/RNN node as a ``torch.nn`` recurrent layer (layout 0)."""

    def __init__(self, rnn: nn.Module, kind: str, outputs: int) -> None:
        super().__init__()
        self.rnn = rnn
        self.kind = kind
        self.outputs = outputs

    def forward(
        self,
        x: torch.Tensor,
        initial_h: torch.Tensor | None = None,
        initial_c: torch.Tensor | None = None,
    ) -> Any:
        state: Any = initial_h
        if self.kind == "LSTM" and initial_h is not None:
            zeros = torch.zeros_like(initial_h)
            state = (initial_h, initial_c if initial_c is not None else zeros)
        y, last = self.rnn(x) if state is None else self.rnn(x, state)
        steps, batch = y.shape[0], y.shape[1]
        directions = 2 if self.rnn.bidirectional else 1
        y = y.view(steps, batch, directions, self.rnn.hidden_size).permute(0, 2, 1, 3)
        results = (y, *last) if self.kind == "LSTM" else (y, last)
        return results[0] if self.outputs == 1 else results[: self.outputs]


def _reorder(weight: torch.Tensor, kind: str) -> torch.Tensor:
    gates, order = _GATES[kind]
    blocks = weight.chunk(gates, dim=0)
    return torch.cat([blocks[i] for i in order], dim=0)


def _recurrent(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    kind = node.operation_type
    attributes = node.attributes
    inputs = list(node.input_values) + [""] * (8 - len(node.input_values))
    defaults = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
    activations = attributes.get("activations")
    nonlinearity = "tanh"
    if kind == "RNN" and activations:
        nonlinearity = activations[0].lower()
        activations = None if nonlinearity in ("tanh", "relu") else activations
    unsupported = {
        "layout=1": attributes.get("layout", 0) != 0,
        "clip": "clip" in attributes,
        "input_forget=1": attributes.get("input_forget", 0) != 0,
        "linear_before_reset=0": kind == "GRU" and attributes.get("linear_before_reset", 0) == 0,
        "custom activations": bool(activations)
        and activations != defaults[kind] * (len(activations) // len(defaults[kind])),
        "direction=reverse": attributes.get("direction", "forward") == "reverse",
        "sequence_lens": bool(inputs[4]),
        "peepholes": kind == "LSTM" and bool(inputs[7]),
    }
    reasons = [name for name, present in unsupported.items() if present]
    if reasons:
        raise UnsupportedOperatorError(kind, "with " + ", ".join(reasons))
    weights = torch.as_tensor(get_const_value(inputs[1], graph))
    recurrent = torch.as_tensor(get_const_value(inputs[2], graph))
    directions, _, input_size = weights.shape
    hidden = int(attributes["hidden_size"])
    gates = _GATES[kind][0]
    bias = (
        torch.as_tensor(get_const_value(inputs[3], graph))
        if inputs[3]
        else torch.zeros(directions, 2 * gates * hidden)
    )
    options: dict[str, Any] = {"bidirectional": directions == 2}
    if kind == "RNN":
        options["nonlinearity"] = nonlinearity
    rnn = _TORCH_RNN[kind](input_size, hidden, **options)
    with torch.no_grad():
        for direction in range(directions):
            suffix = "_l0" + ("_reverse" if direction == 1 else "")
            w_bias, r_bias = bias[direction].chunk(2)
            getattr(rnn, "weight_ih" + suffix).copy_(_reorder(weights[direction], kind))
            getattr(rnn, "weight_hh" + suffix).copy_(_reorder(recurrent[direction], kind))
            getattr(rnn, "bias_ih" + suffix).copy_(_reorder(w_bias, kind))
            getattr(rnn, "bias_hh" + suffix).copy_(_reorder(r_bias, kind))
    states = (inputs[0], inputs[5], inputs[6]) if kind == "LSTM" else (inputs[0], inputs[5])
    outputs = len(node.output_values)
    return OperationConverterResult(
        torch_module=OnnxRecurrent(rnn, kind, outputs),
        onnx_mapping=OnnxMapping(inputs=states, outputs=node.output_values),
    )


_REDUCTIONS: dict[str, Callable[[torch.Tensor, list[int], bool], torch.Tensor]] = {
    "ReduceMean": lambda x, d, k: torch.mean(x, dim=d, keepdim=k),
    "ReduceMax": lambda x, d, k: torch.amax(x, dim=d, keepdim=k),
    "ReduceMin": lambda x, d, k: torch.amin(x, dim=d, keepdim=k),
    "ReduceL1": lambda x, d, k: torch.sum(torch.abs(x), dim=d, keepdim=k),
    "ReduceL2": lambda x, d, k: torch.sqrt(torch.sum(x * x, dim=d, keepdim=k)),
    "ReduceSumSquare": lambda x, d, k: torch.sum(x * x, dim=d, keepdim=k),
    "ReduceLogSum": lambda x, d, k: torch.log(torch.sum(x, dim=d, keepdim=k)),
    "ReduceLogSumExp": lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k),
}


class OnnxReduce18(nn.Module, OnnxToTorchModule):
    """An opset-18 reduction whose axes input is a constant."""

    def __init__(self, operation: str, axes: list[int], keepdims: bool, noop: bool) -> None:
        super().__init__()
        self.operation = operation
        self.axes = axes
        self.keepdims = keepdims
        self.noop = noop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.axes and self.noop:
            return x
        axes = self.axes or list(range(x.dim()))
        return _REDUCTIONS[self.operation](x, axes, self.keepdims)


def _reduce18(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    inputs = node.input_values
    axes: list[int] = []
    if len(inputs) > 1 and inputs[1]:
        try:
            axes = [int(a) for a in torch.as_tensor(get_const_value(inputs[1], graph)).tolist()]
        except KeyError as exc:
            raise UnsupportedOperatorError(node.operation_type, "with non-constant axes") from exc
    module = OnnxReduce18(
        node.operation_type,
        axes,
        bool(node.attributes.get("keepdims", 1)),
        bool(node.attributes.get("noop_with_empty_axes", 0)),
    )
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=(inputs[0],), outputs=node.output_values),
    )


def _register() -> None:
    for kind in _GATES:
        for version in (7, 14):
            add_converter(operation_type=kind, version=version)(_recurrent)
    for operation in _REDUCTIONS:
        add_converter(operation_type=operation, version=18)(_reduce18)


def prepare(model: Any) -> None:
    """Rewrite ``model`` in place into forms onnx2torch converts correctly."""
    relax_reshapes(model)
    separate_multi_outputs(model)


def separate_multi_outputs(model: Any) -> None:
    """Put an ``Identity`` between graph outputs and nodes with several outputs.

    onnx2torch returns such a node's whole output tuple as the graph output
    instead of the one element; it selects the element right for node inputs.
    """
    producers = {name: node for node in model.graph.node for name in node.output}
    for output in model.graph.output:
        node = producers.get(output.name)
        if node is None or len([name for name in node.output if name]) < 2:
            continue
        inner = f"{output.name}__kenning_output"
        node.output[list(node.output).index(output.name)] = inner
        model.graph.node.append(helper.make_node("Identity", [inner], [output.name]))


def relax_reshapes(model: Any) -> None:
    """Set ``allowzero=0`` on Reshapes whose constant target shape has no zero.

    With no zero in the shape both settings mean the same, and onnx2torch only
    implements ``allowzero=0``.
    """
    constants = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    for node in model.graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in constants:
            continue
        if 0 in numpy_helper.to_array(constants[node.input[1]]).tolist():
            continue
        for attribute in node.attribute:
            if attribute.name == "allowzero":
                attribute.i = 0


_register()

"""ONNX round trips for PyTorch: ``torch.onnx.export`` out, onnx2torch back in.

Export uses the current exporter (``dynamo=True``, opset 18 by default).
Import uses onnx2torch, the maintained ONNX-to-PyTorch converter on PyPI,
plus the converters :mod:`kenning.onnxconverters._onnx2torch_ops` adds for
operators it lacks. onnx2torch declares torchvision as a dependency but only
needs it for detection operators; install it with ``pip install --no-deps``
(see ``kenning/onnxconverters/requirements-converters.txt``) so that no other
torch build is pulled in.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.onnxconversion import ONNXConversion, package_version
from kenning.core.onnxresults import ConversionError, ModelEntry, UnsupportedOperatorError
from kenning.onnxconverters import require_converter
from kenning.utils.imports import require

_IMAGE = (1, 3, 64, 64)
_SEQUENCE = (1, 16, 24)

#: name, description, input shape
MODELS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("plain_cnn", "convolutions, batch norm, max pooling, dropout", _IMAGE),
    ("resnet_small", "ResNet-10 with residual basic blocks", _IMAGE),
    ("mobilenet_small", "MobileNetV2-style depthwise-separable inverted residuals", _IMAGE),
    ("lstm", "two-layer LSTM sequence classifier", _SEQUENCE),
    ("gru", "GRU sequence classifier", _SEQUENCE),
    ("rnn", "Elman RNN (tanh) sequence classifier", _SEQUENCE),
    ("transformer_encoder", "two-layer transformer encoder, 4 heads", _SEQUENCE),
)

_MISSING_CONVERTER = re.compile(r"operation_type='(\w+)', version=(\d+)")
_ATEN_OPERATOR = re.compile(r"(aten::\w+|aten\.\w+(?:\.\w+)?)")


def _build(name: str) -> Any:
    require("torch", "torch")
    from kenning.onnxconverters import _torch_models

    return _torch_models.build(name)


class PyTorchONNXConversion(ONNXConversion):
    """PyTorch models exported with ``torch.onnx`` and imported with onnx2torch."""

    framework: ClassVar[str] = "PyTorch"
    arguments_structure = (Arg("--torch-opset", int, 18, "ONNX opset for torch.onnx.export"),)

    def __init__(self, torch_opset: int = 18) -> None:
        self.opset = torch_opset

    def models(self) -> list[ModelEntry]:
        return [
            ModelEntry(name, functools.partial(_build, name), shape, description)
            for name, description, shape in MODELS
        ]

    def version(self) -> str:
        return (
            f"torch {package_version('torch')}; export torch.onnx (dynamo, opset "
            f"{self.opset}); import onnx2torch {package_version('onnx2torch')} with kenning's "
            "converters for LSTM, GRU, RNN and opset-18 reductions "
            "(kenning.onnxconverters._onnx2torch_ops)"
        )

    def run(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        torch = require("torch", "torch")
        model.eval()
        with torch.no_grad():
            output = model(torch.from_numpy(inputs))
        if isinstance(output, (tuple, list)):
            output = output[0]
        return output.detach().numpy()

    def onnx_export(self, model: Any, path: Path, example: np.ndarray) -> None:
        torch = require("torch", "torch")
        require("onnxscript", "torch")
        exporter_log = logging.getLogger("torch.onnx")
        level = exporter_log.level
        try:
            # the exporter logs each torchvision operator it cannot find at WARNING
            exporter_log.setLevel(logging.ERROR)
            with warnings.catch_warnings():
                # nn.LSTM/GRU flatten their weights while being traced; harmless
                warnings.filterwarnings("ignore", "The tensor attributes .* were assigned")
                # torch.export deprecating its own pytree API, reported from copyreg
                warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)`")
                torch.onnx.export(
                    model,
                    (torch.from_numpy(example),),
                    str(path),
                    input_names=["input"],
                    output_names=["output"],
                    opset_version=self.opset,
                    dynamo=True,
                    external_data=False,
                    verbose=False,
                )
        except Exception as exc:
            message = " ".join(str(exc).split())
            operator = _ATEN_OPERATOR.search(message)
            if operator and ("not supported" in message or "No decomposition" in message):
                raise UnsupportedOperatorError(operator.group(1), "torch.onnx") from exc
            raise ConversionError(f"torch.onnx.export failed: {message[:300]}") from exc
        finally:
            exporter_log.setLevel(level)

    def run_imported(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # onnx2torch's Slice indexes with a list; results are compared anyway
            warnings.filterwarnings("ignore", "Using a non-tuple sequence for multidimensional")
            return self.run(model, inputs)

    def onnx_import(self, path: Path) -> Any:
        require("torch", "torch")
        onnx = require("onnx", "torch")
        require_converter("onnx2torch")
        from kenning.onnxconverters import _onnx2torch_ops

        model = onnx.load(str(path))
        _onnx2torch_ops.prepare(model)
        try:
            return _onnx2torch_ops.convert(model)
        except NotImplementedError as exc:
            found = _MISSING_CONVERTER.search(str(exc))
            if found:
                raise UnsupportedOperatorError(
                    found.group(1), f"no onnx2torch converter for opset {found.group(2)}"
                ) from exc
            raise UnsupportedOperatorError("?", f"onnx2torch: {exc}") from exc

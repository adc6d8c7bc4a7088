"""Static int8 quantisation of ONNX models with ONNX Runtime.

The result is still an ONNX file (QDQ or QOperator form) with float inputs
and outputs, so it runs on :class:`kenning.runtimes.onnxruntime.ONNXRuntime`
unchanged; calibration data is drawn from the Dataset's train split.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.compiler import ModelCompiler
from kenning.core.iospec import IOSpec, as_tensors
from kenning.frameworks.onnx import load_onnx, onnx_io_spec
from kenning.utils.errors import ModelError
from kenning.utils.imports import require


class ONNXRuntimeQuantizer(ModelCompiler):
    """Quantises an ONNX model to int8 with ONNX Runtime, calibrated on the dataset.

    Parameters
    ----------
    dataset : Dataset
        Calibration data (required).
    compiled_model_path : Path
        Where the quantised ``.onnx`` is written.
    calibration_samples : int
        Train samples run through the model to find activation ranges.
    quant_format : str
        ``QDQ`` (quantise/dequantise pairs) or ``QOperator`` (integer operators).
    calibrate_method : str
        ``minmax``, ``entropy`` or ``percentile``.
    per_tensor : bool
        One weight scale per tensor instead of per output channel.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="where the quantised .onnx is written"),
        Arg("--calibration-samples", int, 200, "train samples used for calibration"),
        Arg("--quant-format", str, "QDQ", "quantised graph form", choices=("QDQ", "QOperator")),
        Arg(
            "--calibrate-method",
            str,
            "minmax",
            "how activation ranges are found",
            choices=("minmax", "entropy", "percentile"),
        ),
        Arg("--per-tensor", bool, help="one weight scale per tensor, not per channel"),
    )

    framework = "onnxruntime"
    input_formats = ("onnx",)
    output_format = "onnx"
    precision = "int8"

    @classmethod
    def calibrates_with(cls, parameters: Mapping[str, Any]) -> bool:
        return True

    def __init__(
        self,
        dataset: Any,
        compiled_model_path: Path,
        calibration_samples: int = 200,
        quant_format: str = "QDQ",
        calibrate_method: str = "minmax",
        per_tensor: bool = False,
    ) -> None:
        super().__init__(dataset, compiled_model_path)
        self.calibration_samples = calibration_samples
        self.quant_format = quant_format
        self.calibrate_method = calibrate_method
        self.per_tensor = per_tensor

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Quantise ``input_model_path`` to ``compiled_model_path``.

        Raises
        ------
        ConfigurationError
            If no dataset was given for calibration.
        ModelError
            If the input is not a valid ONNX model or quantisation fails.
        """
        quant = require("onnxruntime.quantization", "onnxruntime")
        input_model_path = Path(input_model_path)
        model = load_onnx(input_model_path)
        spec = onnx_io_spec(model, io_spec, input_model_path)
        names = [t.name for t in spec.inputs]
        dtypes = [np.dtype(t.dtype) for t in spec.inputs]
        batches = self.calibration_batches(self.calibration_samples, "int8 quantisation")
        first = next(batches, None)
        if first is None:
            raise ModelError(f"no calibration samples for {input_model_path}", input_model_path)
        out = self.compiled_model_path
        out.parent.mkdir(parents=True, exist_ok=True)

        class _Reader(quant.CalibrationDataReader):  # type: ignore[name-defined]
            def __init__(self, arrays: Iterator[np.ndarray]) -> None:
                # each input in its own dtype (int64 token ids, uint8 pixels), as inference
                # feeds it; check_inputs has refused data that would not cast exactly
                self.feeds = (
                    {
                        n: np.asarray(x, dtype=d)
                        for n, d, x in zip(names, dtypes, as_tensors(a), strict=True)
                    }
                    for a in arrays
                )

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.feeds, None)

        def chained() -> Iterator[np.ndarray]:
            yield first
            yield from batches

        methods = {
            "minmax": quant.CalibrationMethod.MinMax,
            "entropy": quant.CalibrationMethod.Entropy,
            "percentile": quant.CalibrationMethod.Percentile,
        }
        with tempfile.TemporaryDirectory(prefix="kenning-ortq-") as tmp:
            prepared = Path(tmp) / "prepared.onnx"
            try:
                quant.quant_pre_process(str(input_model_path), str(prepared))
                quant.quantize_static(
                    str(prepared),
                    str(out),
                    _Reader(chained()),
                    quant_format=getattr(quant.QuantFormat, self.quant_format),
                    per_channel=not self.per_tensor,
                    activation_type=quant.QuantType.QInt8,
                    weight_type=quant.QuantType.QInt8,
                    calibrate_method=methods[self.calibrate_method],
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
                )
            except Exception as exc:
                raise ModelError(
                    f"ONNX Runtime could not quantise {input_model_path}: {exc}", input_model_path
                ) from exc
        spec.save(out)
        return spec

    def get_framework_and_version(self) -> tuple[str, str]:
        ort = require("onnxruntime", "onnxruntime")
        return "onnxruntime", ort.__version__

"""Convert Keras models to TensorFlow Lite.

Targets: ``default`` (float32), ``float16`` (half-precision weights),
``int8`` (full integer, calibrated with a representative set drawn from the
dataset's train split) and ``edgetpu`` (``int8`` then ``edgetpu_compiler``).
The I/O specification comes from the converted model, with the scale and
zero point of int8 inputs and outputs, so runtimes quantise through it.

ONNX input is not offered: the one converter (onnx2tf) pins an older
TensorFlow and numpy 1.x, so it cannot live beside this TensorFlow, and
TFLite's own converter takes no ONNX. PyTorch models go to TVM or ONNX Runtime.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from kenning.core.args import Arg
from kenning.core.compiler import ModelCompiler
from kenning.core.dataset import Dataset
from kenning.core.iospec import IOSpec
from kenning.frameworks.tflite import tflite_backend, tflite_io_spec
from kenning.utils.errors import ConfigurationError, ModelError
from kenning.utils.imports import require

TARGETS = ("default", "int8", "float16", "edgetpu")
#: seconds ``edgetpu_compiler`` gets for one model
EDGETPU_TIMEOUT_S = 600.0
IO_TYPES = ("float32", "int8", "uint8")


class TFLiteCompiler(ModelCompiler):
    """Converts models to ``.tflite`` for a target (float32, float16, int8, Edge TPU).

    Parameters
    ----------
    dataset : Dataset, optional
        Representative data, required for ``int8`` and ``edgetpu``.
    compiled_model_path : Path
        Where the ``.tflite`` is written.
    model_framework : str
        Format of the input model: ``keras``.
    target : str
        One of :data:`TARGETS`.
    inference_input_type, inference_output_type : str
        Dtype of the model's inputs and outputs; integer types need ``int8``/``edgetpu``.
    calibration_samples : int
        Size of the representative set.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="where the .tflite is written"),
        Arg("--model-framework", str, "keras", "format of the input model", ("keras",)),
        Arg("--target", str, "default", "what the model is converted for", TARGETS),
        Arg("--inference-input-type", str, "float32", "dtype of the model inputs", IO_TYPES),
        Arg("--inference-output-type", str, "float32", "dtype of the model outputs", IO_TYPES),
        Arg("--calibration-samples", int, 200, "train samples in the representative set"),
    )

    framework = "tensorflow"
    input_formats = ("keras",)
    output_format = "tflite"

    @classmethod
    def precision_for(cls, parameters: Mapping[str, Any]) -> str:
        target = str(parameters.get("target", "default"))
        return {"float16": "float16", "int8": "int8", "edgetpu": "int8"}.get(target, "float32")

    @classmethod
    def calibrates_with(cls, parameters: Mapping[str, Any]) -> bool:
        return cls.precision_for(parameters) == "int8"

    def __init__(
        self,
        dataset: Dataset | None,
        compiled_model_path: Path,
        model_framework: str = "keras",
        target: str = "default",
        inference_input_type: str = "float32",
        inference_output_type: str = "float32",
        calibration_samples: int = 200,
    ) -> None:
        super().__init__(dataset, compiled_model_path)
        if target not in TARGETS:
            raise ConfigurationError(
                f"--target {target!r} is not a TFLite target; choose one of {', '.join(TARGETS)}"
            )
        if model_framework != "keras":
            raise ConfigurationError(
                f"--model-framework {model_framework}: TFLiteCompiler converts keras models "
                "only (no ONNX-to-TFLite converter works beside this TensorFlow)"
            )
        quantised = target in ("int8", "edgetpu")
        for flag, value in (
            ("--inference-input-type", inference_input_type),
            ("--inference-output-type", inference_output_type),
        ):
            if value not in IO_TYPES:
                raise ConfigurationError(f"{flag} {value!r}: choose one of {', '.join(IO_TYPES)}")
            if value != "float32" and not quantised:
                raise ConfigurationError(f"{flag} {value} needs --target int8 or edgetpu")
        self.model_framework = model_framework
        self.target = target
        self.inference_input_type = inference_input_type
        self.inference_output_type = inference_output_type
        self.calibration_samples = calibration_samples

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Convert ``input_model_path`` and write the ``.tflite`` and its specification.

        Raises
        ------
        ConfigurationError
            If ``int8``/``edgetpu`` has no dataset, or ``edgetpu_compiler`` is missing.
        ModelError
            If the input is not a model of ``--model-framework`` or conversion fails.
        """
        tf = require("tensorflow", "tensorflow")
        input_model_path = Path(input_model_path)
        if self.target == "edgetpu" and shutil.which("edgetpu_compiler") is None:
            raise ConfigurationError(
                "--target edgetpu runs edgetpu_compiler, which is not installed (not on PATH); "
                "install the Edge TPU compiler or choose --target int8"
            )
        with tempfile.TemporaryDirectory(prefix="kenning-tflite-") as tmp:
            saved = self._saved_model(input_model_path, Path(tmp) / "saved_model")
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            self._configure(tf, converter)
            try:
                with warnings.catch_warnings():
                    # int8 inputs: TF reminds that their statistics come from calibration
                    warnings.filterwarnings("ignore", "Statistics for quantized inputs")
                    flatbuffer = converter.convert()
            except Exception as exc:
                raise ModelError(
                    f"TFLite cannot convert {input_model_path} for --target {self.target}: "
                    f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}",
                    input_model_path,
                ) from exc
        out = self.compiled_model_path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(flatbuffer)
        if self.target == "edgetpu":
            self._edgetpu(out)
        spec = self._io_spec(out, io_spec)
        spec.save(out)
        return spec

    def _saved_model(self, path: Path, folder: Path) -> Path:
        keras = require("keras", "tensorflow")
        if path.suffix not in (".keras", ".h5"):
            raise ModelError(f"{path} is not a Keras model (expected .keras or .h5)", path)
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as exc:
            raise ModelError(
                f"{path} is not a Keras model that can be loaded: {exc}", path
            ) from exc
        model.export(str(folder), format="tf_saved_model", verbose=False)
        return folder

    def _configure(self, tf: Any, converter: Any) -> None:
        if self.target == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif self.target in ("int8", "edgetpu"):
            batches = list(self.calibration_batches(self.calibration_samples, "--target int8"))

            def representative() -> Any:
                for batch in batches:
                    yield [batch]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = getattr(tf, self.inference_input_type)
            converter.inference_output_type = getattr(tf, self.inference_output_type)

    def _edgetpu(self, path: Path) -> None:
        folder = path.parent
        try:
            proc = subprocess.run(
                ["edgetpu_compiler", "-s", "-o", str(folder), str(path)],
                capture_output=True,
                text=True,
                check=False,
                timeout=EDGETPU_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            detail = f"edgetpu_compiler gave no exit status within {EDGETPU_TIMEOUT_S:g} s"
            raise ModelError(f"{detail} on {path}; it was stopped", path) from exc
        produced = folder / f"{path.stem}_edgetpu.tflite"
        if proc.returncode != 0 or not produced.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ModelError(f"edgetpu_compiler failed on {path}: {' / '.join(tail)}", path)
        produced.replace(path)

    def _io_spec(self, path: Path, source: IOSpec) -> IOSpec:
        return tflite_io_spec(tflite_backend().interpreter(model_path=str(path)), source)

    def get_framework_and_version(self) -> tuple[str, str]:
        tf = require("tensorflow", "tensorflow")
        return "tensorflow", tf.__version__

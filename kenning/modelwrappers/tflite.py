"""A ``.tflite`` file as the source model: its reference runs in the TFLite interpreter.

Inputs and outputs (names, shapes, dtypes and quantisation) are read from the flatbuffer.
Such a model deploys as it is (an empty chain with the ``tflite`` runtime); no compiler
takes it further.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec
from kenning.core.model import ModelWrapper
from kenning.frameworks.tflite import tflite_backend, tflite_io_spec
from kenning.utils.errors import ModelError


class TFLiteModel(ModelWrapper):
    """A TFLite flatbuffer, taken as it is."""

    framework = "tflite"
    model_format = "tflite"
    model_suffixes = (".tflite",)

    def load_model(self, path: Path) -> None:
        backend = tflite_backend()
        try:
            self.model = backend.interpreter(model_path=str(path), num_threads=1)
            self.model.allocate_tensors()
        except Exception as exc:  # the interpreter raises ValueError/RuntimeError for garbage
            raise ModelError(f"{path} is not a TFLite model ({exc})", path) from exc
        self._version = (backend.name, backend.version)
        self._spec = tflite_io_spec(self.model)

    def get_io_specification(self) -> IOSpec:
        return self._spec

    def get_framework_and_version(self) -> tuple[str, str]:
        return getattr(self, "_version", ("tflite", "unknown"))

    def run_inference(self, inputs: Any) -> Any:
        return self.run_outputs(inputs)[self.scored_index()]

    def run_outputs(self, inputs: Any) -> list[np.ndarray]:
        inputs = np.asarray(inputs)
        details = self.model.get_output_details()
        rows: list[list[np.ndarray]] = [[] for _ in details]
        for row in range(len(inputs)):  # the flatbuffer's batch is fixed at 1
            detail = self.model.get_input_details()[0]
            self.model.set_tensor(
                detail["index"], self._spec.inputs[0].quantize(inputs[row : row + 1])
            )
            self.model.invoke()
            for k, out in enumerate(details):
                tensor = self.model.get_tensor(out["index"])
                rows[k].append(self._spec.outputs[k].dequantize(tensor))
        return [np.concatenate(r) for r in rows]

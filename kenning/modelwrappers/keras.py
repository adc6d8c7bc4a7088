"""Any saved Keras model (``.keras`` or ``.h5``): bring the file, no Python of your own.

Inputs and outputs come from the model itself. It can be benchmarked in TensorFlow, exported
to ONNX and compiled to TFLite like the wrappers that build their own network; it cannot be
trained from scratch here (there is no architecture to build).
"""

from __future__ import annotations

from kenning.modelwrappers.frameworks.tensorflow import TensorFlowWrapper
from kenning.utils.errors import ModelError


class KerasModel(TensorFlowWrapper):
    """A Keras model file, taken as it is."""

    def build_model(self) -> None:
        raise ModelError(
            f"{type(self).__name__} reads a saved model ({self.model_path}); it has no "
            "architecture to train from scratch: train with your own wrapper",
            self.model_path,
        )

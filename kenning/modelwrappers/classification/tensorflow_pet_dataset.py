"""MobileNetV2 transfer learning for the Oxford-IIIT Pet dataset (Keras)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.dataset import Dataset
from kenning.modelwrappers.frameworks.tensorflow import TensorFlowWrapper, keras
from kenning.utils.errors import ConfigurationError, ModelError

#: MobileNetV2's stride-32 feature extractor needs at least this many pixels per side
MIN_SIZE = 32


class TensorFlowPetDatasetMobileNetV2(TensorFlowWrapper):
    """MobileNetV2 features, global average pooling, dropout and a softmax classifier.

    With ``--pretrained-weights`` the feature extractor starts from a local
    no-top weights file (the ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5``
    Keras would download, or a ``.weights.h5`` saved from such a base) and is
    frozen, so training fits only the classifier; without it the whole network
    trains from random initialisation.

    Parameters
    ----------
    model_path : Path
        The trained model file (``.h5`` or ``.keras``).
    dataset : Dataset, optional
        Gives the input shape and class count when building.
    from_file : bool
        Load ``model_path`` instead of building a new model.
    pretrained_weights : Path, optional
        No-top MobileNetV2 (alpha 1.0) weights to start from.
    dropout : float
        Dropout rate before the classifier.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg(
            "--pretrained-weights",
            Path,
            None,
            "local no-top MobileNetV2 weights (.h5) to start from; freezes the feature extractor",
        ),
        Arg("--dropout", float, 0.2, "dropout rate before the classifier"),
    )

    def __init__(
        self,
        model_path: Path,
        dataset: Dataset | None,
        from_file: bool = True,
        pretrained_weights: Path | None = None,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(model_path, dataset, from_file)
        if not 0.0 <= dropout < 1.0:
            raise ConfigurationError(f"--dropout must be in [0, 1), got {dropout}")
        self.pretrained_weights = Path(pretrained_weights) if pretrained_weights else None
        self.dropout = dropout

    def build_model(self) -> None:
        """Build the network; load and freeze the base if ``--pretrained-weights`` is given.

        Raises
        ------
        ConfigurationError
            If the dataset's images are too small or not RGB.
        ModelError
            If the weights file is missing or does not fit MobileNetV2.
        """
        assert self.dataset is not None, "building the model needs the dataset"
        shape = tuple(self.dataset.input_shape())
        if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < MIN_SIZE:
            raise ConfigurationError(
                f"MobileNetV2 needs RGB images of at least {MIN_SIZE}x{MIN_SIZE} pixels, the "
                f"dataset gives {shape}; raise --image-size"
            )
        k = keras()
        k.utils.set_random_seed(12345)
        base = k.applications.MobileNetV2(
            input_shape=shape, include_top=False, weights=None, name="mobilenetv2_base"
        )
        frozen = self.pretrained_weights is not None
        if self.pretrained_weights is not None:
            self._load_base_weights(base, self.pretrained_weights)
            base.trainable = False
        inputs = k.Input(shape=shape, name="input")
        # A frozen base keeps its batch-norm statistics: run it in inference mode.
        x = base(inputs, training=False) if frozen else base(inputs)
        x = k.layers.GlobalAveragePooling2D(name="pooling")(x)
        x = k.layers.Dropout(self.dropout, name="dropout")(x)
        outputs = k.layers.Dense(self.dataset.num_classes, activation="softmax", name="output")(x)
        self.model = k.Model(inputs, outputs, name="pet_mobilenetv2")

    @staticmethod
    def _load_base_weights(base: Any, path: Path) -> None:
        if not path.is_file():
            raise ModelError(f"--pretrained-weights file {path} does not exist", path)
        if path.suffix not in (".h5", ".hdf5"):
            raise ModelError(
                f"--pretrained-weights {path} is not an HDF5 (.h5) weights file", path
            )
        try:
            base.load_weights(path)
        except Exception as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(
                f"--pretrained-weights {path} does not hold no-top MobileNetV2 (alpha 1.0) "
                f"weights ({type(exc).__name__}: {detail})",
                path,
            ) from exc

    def preprocess_input(self, inputs: np.ndarray) -> Any:
        """Dataset images in [0, 1] -> the [-1, 1] range MobileNetV2 expects."""
        return np.asarray(inputs, dtype=np.float32) * 2.0 - 1.0

"""The models and deployments the demo, ``invoke compile`` and ``invoke bench`` know by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DIGITS = "kenning.datasets.digits.DigitsDataset"


@dataclass(frozen=True)
class Model:
    """A trainable model of the demo."""

    name: str
    wrapper: str
    suffix: str


MODELS = {
    "torch": Model(
        "torch", "kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN", "pth"
    ),
    "tensorflow": Model(
        "tensorflow",
        "kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN",
        "keras",
    ),
}

#: the image each model trains (and exports to ONNX) in
TRAIN_IMAGES = {"torch": "train-torch", "tensorflow": "train-tensorflow"}


@dataclass(frozen=True)
class Artifact:
    """One way of deploying a model.

    The compiler is a key of ``kenning.toolchain.compile.COMPILERS``; its flags and the
    runtime that runs the result complete it.
    """

    name: str
    model: str
    compiler: str
    runtime: str
    compiler_args: tuple[str, ...] = field(default=())


ARTIFACTS = (
    Artifact("torch-onnx-ort", "torch", "onnx", "onnxruntime"),
    Artifact("torch-ort-int8", "torch", "onnxruntime-quant", "onnxruntime"),
    Artifact("torch-tvm", "torch", "tvm", "tvm"),
    Artifact("tf-tflite", "tensorflow", "tflite", "tflite"),
    Artifact("tf-tflite-int8", "tensorflow", "tflite", "tflite",
             ("--target", "int8", "--inference-input-type", "int8",
              "--inference-output-type", "int8")),
    Artifact("tf-onnx-ort", "tensorflow", "onnx", "onnxruntime"),
)  # fmt: skip


def model_path(build: Path, model: Model) -> Path:
    """Where the demo keeps a trained model."""
    return build / "models" / f"digits-{model.name}.{model.suffix}"


def artifact(name: str) -> Artifact:
    """The demo artifact called ``name``.

    Raises
    ------
    ConfigurationError
        If there is none.
    """
    from kenning.utils.errors import ConfigurationError

    for item in ARTIFACTS:
        if item.name == name:
            return item
    raise ConfigurationError(
        f"unknown artifact '{name}'; choose from {', '.join(a.name for a in ARTIFACTS)}"
    )

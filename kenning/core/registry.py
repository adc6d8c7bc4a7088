"""One registry that turns short names or dotted paths into kenning classes.

Short names are listed here as strings, so resolving one imports only the
module that defines it (and that module imports its framework lazily).
"""

from __future__ import annotations

import importlib
from typing import Any

from kenning.utils.errors import KenningError, UnknownClassError

#: family -> (module, base class name)
FAMILIES: dict[str, tuple[str, str]] = {
    "dataset": ("kenning.core.dataset", "Dataset"),
    "modelwrapper": ("kenning.core.model", "ModelWrapper"),
    "compiler": ("kenning.core.compiler", "ModelCompiler"),
    "runtime": ("kenning.core.runtime", "Runtime"),
    "protocol": ("kenning.core.runtimeprotocol", "RuntimeProtocol"),
    "onnxconverter": ("kenning.core.onnxconversion", "ONNXConversion"),
}

#: family -> short name -> dotted class path
SHORT_NAMES: dict[str, dict[str, str]] = {
    "dataset": {
        "digits": "kenning.datasets.digits.DigitsDataset",
        "pet": "kenning.datasets.pet_dataset.PetDataset",
        "folder": "kenning.datasets.folder.FolderDataset",
        "synthetic": "kenning.datasets.synthetic.SyntheticDataset",
        "shapes": "kenning.datasets.shapes.ShapesDataset",
    },
    "modelwrapper": {
        "tf-digits-cnn": (
            "kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN"
        ),
        "torch-digits-cnn": "kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN",
        "torch-digits-mlp": (
            "kenning.modelwrappers.classification.pytorch_digits_mlp.PyTorchDigitsMLP"
        ),
        "torch-shapes-detector": (
            "kenning.modelwrappers.detection.pytorch_shapes.PyTorchShapesDetector"
        ),
        "tf-shapes-detector": (
            "kenning.modelwrappers.detection.tensorflow_shapes.TensorFlowShapesDetector"
        ),
        "onnx-model": "kenning.modelwrappers.onnx.ONNXModel",
        "keras-model": "kenning.modelwrappers.keras.KerasModel",
        "tflite-model": "kenning.modelwrappers.tflite.TFLiteModel",
        "torch-exported": "kenning.modelwrappers.torchexported.TorchExportedModel",
        "tf-pet-mobilenetv2": (
            "kenning.modelwrappers.classification.tensorflow_pet_dataset."
            "TensorFlowPetDatasetMobileNetV2"
        ),
    },
    "compiler": {
        "onnx": "kenning.compilers.onnx.ONNXCompiler",
        "onnx-c": "kenning.compilers.onnxc.ONNXToCCompiler",
        "onnxruntime-quant": "kenning.compilers.onnxruntime.ONNXRuntimeQuantizer",
        "precompiled": "kenning.compilers.precompiled.PrecompiledModel",
        "pytorch": "kenning.compilers.pytorch.PyTorchCompiler",
        "tflite": "kenning.compilers.tflite.TFLiteCompiler",
        "tvm": "kenning.compilers.tvm.TVMCompiler",
    },
    "runtime": {
        "onnxruntime": "kenning.runtimes.onnxruntime.ONNXRuntime",
        "pytorch": "kenning.runtimes.pytorch.PyTorchRuntime",
        "tflite": "kenning.runtimes.tflite.TFLiteRuntime",
        "tvm": "kenning.runtimes.tvm.TVMRuntime",
        "null": "kenning.runtimes.null.NullRuntime",
        "onnx-c": "kenning.runtimes.cmodel.CModelRuntime",
    },
    "protocol": {
        "network": "kenning.runtimeprotocols.network.NetworkProtocol",
        "serial": "kenning.runtimeprotocols.serial.SerialProtocol",
    },
    "onnxconverter": {
        "pytorch": "kenning.onnxconverters.pytorch.PyTorchONNXConversion",
        "tensorflow": "kenning.onnxconverters.tensorflow.TensorFlowONNXConversion",
        "mxnet": "kenning.onnxconverters.mxnet.MXNetONNXConversion",
    },
}


def register(family: str, short_name: str, dotted_path: str) -> None:
    """Add a short name, e.g. from a plug-in package.

    Raises
    ------
    KeyError
        If ``family`` is not one of :data:`FAMILIES`.
    """
    SHORT_NAMES[family][short_name] = dotted_path


def short_names(family: str) -> list[str]:
    """Sorted short names of one family."""
    return sorted(SHORT_NAMES[family])


def _base_class(family: str) -> type:
    module, name = FAMILIES[family]
    return getattr(importlib.import_module(module), name)


def load_class(name: str, family: str) -> type[Any]:
    """Resolve a short name or dotted path to a class of ``family``.

    Parameters
    ----------
    name : str
        Short name (``digits``) or dotted path (``kenning.datasets.digits.DigitsDataset``).
    family : str
        One of :data:`FAMILIES`.

    Returns
    -------
    type
        The class, a subclass of the family's base.

    Raises
    ------
    UnknownClassError
        If the name does not resolve, or names a class of another family.
    """
    choices = short_names(family)
    dotted = SHORT_NAMES[family].get(name, name)
    module_name, _, class_name = dotted.rpartition(".")
    if not module_name:
        raise UnknownClassError(name, family, choices)
    try:
        module = importlib.import_module(module_name)
    except KenningError:
        raise
    except ImportError as exc:
        raise UnknownClassError(
            name, family, choices, f"cannot import {module_name}: {exc}"
        ) from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise UnknownClassError(name, family, choices, f"{module_name} has no class {class_name}")
    base = _base_class(family)
    if not issubclass(cls, base):
        raise UnknownClassError(name, family, choices, f"{class_name} is not a {base.__name__}")
    return cls

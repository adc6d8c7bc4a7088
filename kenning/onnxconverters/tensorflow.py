"""ONNX round trips for TensorFlow/Keras: tf2onnx out, onnx2tf back in.

Models are ``keras.applications`` architectures built with ``weights=None``
(nothing is downloaded) and small custom Keras models.

Export: ``tf2onnx.convert.from_keras`` fails on Keras 3, and
``from_function`` turns constants that a layer captures (the mean and
variance of EfficientNet's ``Normalization``) into extra graph inputs. So the
model's ``tf.function`` is frozen (``convert_variables_to_constants_v2``) and
the frozen graph goes through ``tf2onnx.convert.from_graph_def``. Image models
get an NCHW ONNX input (``inputs_as_nchw``), the usual ONNX layout. The
recurrent models use ``unroll=True``: tf2onnx turns Keras 3's recurrent
``while`` loop into an ONNX ``Loop`` rather than an ``LSTM``/``GRU`` node, and
onnx2tf 1.29 fails on that ``Loop``.

Import: onnx2tf (install it with ``--no-deps``, see
``kenning/onnxconverters/requirements-converters.txt``) turns the NCHW model
back into an NHWC ``tf_keras`` model. onnx2tf fetches sample images from
GitHub for its own checks unless a file of them is in the working folder; the
import runs in a temporary folder holding such a file of random data, so
nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.onnxconversion import ONNXConversion, package_version
from kenning.core.onnxresults import ConversionError, ModelEntry, UnsupportedOperatorError
from kenning.onnxconverters import require_converter
from kenning.utils.imports import require

#: the file onnx2tf reads from the working folder instead of downloading it
_ONNX2TF_SAMPLES = "calibration_image_sample_data_20x128x128x3_float32.npy"
_NOT_IMPLEMENTED = re.compile(r"(\w+) OP is not yet implemented")
_TF_UNSUPPORTED = re.compile(r"(?:op \[?|Unsupported ops: Counter\(\{')(\w+)")


def _application(name: str, size: int) -> Callable[[], Any]:
    def build() -> Any:
        keras = require("keras", "tensorflow")
        keras.utils.set_random_seed(0)
        factory = getattr(keras.applications, name)
        model = factory(weights=None, input_shape=(size, size, 3), classifier_activation=None)
        return _calibrate_batchnorm(model, (1, size, size, 3))

    return build


def _custom(name: str) -> Callable[[], Any]:
    def build() -> Any:
        keras = require("keras", "tensorflow")
        keras.utils.set_random_seed(0)
        layers = keras.layers
        if name == "small_cnn":
            stack = [
                keras.Input((32, 32, 3)),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(32, 3, padding="same"),
                layers.BatchNormalization(),
                layers.ReLU(),
                layers.GlobalAveragePooling2D(),
                layers.Dense(10),
            ]
        elif name == "separable_cnn":
            stack = [
                keras.Input((32, 32, 3)),
                layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6"),
                layers.DepthwiseConv2D(3, padding="same"),
                layers.BatchNormalization(),
                layers.ReLU(6.0),
                layers.SeparableConv2D(32, 3, padding="same", activation="relu"),
                layers.AveragePooling2D(2),
                layers.Flatten(),
                layers.Dense(10),
            ]
        elif name == "lstm":
            stack = [keras.Input((16, 24)), layers.LSTM(32, unroll=True), layers.Dense(10)]
        elif name == "gru":
            stack = [keras.Input((16, 24)), layers.GRU(32, unroll=True), layers.Dense(10)]
        else:
            stack = [
                keras.Input((64,)),
                layers.Dense(64, activation="relu"),
                layers.Dense(32, activation="tanh"),
                layers.Dense(10),
            ]
        model = keras.Sequential(stack, name=name)
        return _calibrate_batchnorm(model, (1, *stack[0].shape[1:]))

    return build


class TensorFlowONNXConversion(ONNXConversion):
    """Keras models exported with tf2onnx and imported with onnx2tf."""

    framework: ClassVar[str] = "TensorFlow"
    arguments_structure = (
        Arg("--tf-opset", int, 17, "ONNX opset for tf2onnx"),
        Arg("--tf-image-size", int, 224, "input height and width of keras.applications models"),
    )

    def __init__(self, tf_opset: int = 17, tf_image_size: int = 224) -> None:
        self.opset = tf_opset
        self.image_size = tf_image_size

    def models(self) -> list[ModelEntry]:
        size = self.image_size
        image = (1, size, size, 3)
        entries = [
            ModelEntry(key, _application(cls, size), image, f"keras.applications.{cls}")
            for key, cls in (
                ("mobilenet_v2", "MobileNetV2"),
                ("resnet50", "ResNet50"),
                ("densenet121", "DenseNet121"),
                ("efficientnet_b0", "EfficientNetB0"),
            )
        ]
        return [
            *entries,
            ModelEntry("small_cnn", _custom("small_cnn"), (1, 32, 32, 3), "conv, BN, pooling"),
            ModelEntry(
                "separable_cnn", _custom("separable_cnn"), (1, 32, 32, 3), "depthwise/separable"
            ),
            ModelEntry("mlp", _custom("mlp"), (1, 64), "dense layers"),
            ModelEntry("lstm", _custom("lstm"), (1, 16, 24), "LSTM (unrolled) classifier"),
            ModelEntry("gru", _custom("gru"), (1, 16, 24), "GRU (unrolled) classifier"),
        ]

    def version(self) -> str:
        return (
            f"tensorflow {package_version('tensorflow-cpu', 'tensorflow')}, keras "
            f"{package_version('keras')}; export tf2onnx {package_version('tf2onnx')} "
            f"(opset {self.opset}); import onnx2tf {package_version('onnx2tf')}; "
            f"keras.applications at {self.image_size}x{self.image_size}"
        )

    def run(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(model(inputs, training=False))

    def onnx_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return inputs.transpose(0, 3, 1, 2) if inputs.ndim == 4 else inputs

    def onnx_export(self, model: Any, path: Path, example: np.ndarray) -> None:
        tf = require("tensorflow", "tensorflow")
        tf2onnx = require("tf2onnx", "tensorflow")
        from tf2onnx import tf_loader

        spec = tf.TensorSpec(example.shape, tf.float32, name="input")
        function = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
        # the first input is the argument; the others are captured constants to freeze
        inputs = [function.inputs[0].name]
        outputs = [t.name for t in function.outputs]
        frozen = tf_loader.from_function(function, inputs, outputs)
        try:
            tf2onnx.convert.from_graph_def(
                frozen,
                input_names=inputs,
                output_names=outputs,
                opset=self.opset,
                inputs_as_nchw=inputs if example.ndim == 4 else None,
                tensors_to_rename={inputs[0]: "input", outputs[0]: "output"},
                output_path=str(path),
            )
        except Exception as exc:
            message = " ".join(str(exc).split())
            if "Unsupported ops" in message or "is not supported" in message:
                found = _TF_UNSUPPORTED.search(message)
                raise UnsupportedOperatorError(
                    found.group(1) if found else "?", "tf2onnx"
                ) from exc
            raise ConversionError(f"tf2onnx failed: {message[:300]}") from exc

    def onnx_import(self, path: Path) -> Any:
        require("tensorflow", "tensorflow")
        require_converter("onnx2tf")
        import onnx2tf

        onnx = require("onnx", "tensorflow")
        graph = onnx.load(str(path), load_external_data=False).graph
        # onnx2tf reads rank-3 inputs as NCW; a Keras sequence input is (batch, time, features)
        keep = [i.name for i in graph.input if len(i.type.tensor_type.shape.dim) == 3]
        source = str(path.resolve())
        log = io.StringIO()
        with (
            tempfile.TemporaryDirectory(prefix="kenning-onnx2tf-") as folder,
            contextlib.chdir(folder),
            contextlib.redirect_stdout(log),
        ):
            samples = np.random.default_rng(0).uniform(0, 1, (20, 128, 128, 3))
            np.save(_ONNX2TF_SAMPLES, samples.astype(np.float32))
            try:
                return onnx2tf.convert(
                    input_onnx_file_path=source,
                    output_folder_path=str(Path(folder) / "saved_model"),
                    disable_model_save=True,
                    non_verbose=True,
                    not_use_onnxsim=True,
                    keep_shape_absolutely_input_names=keep or None,
                )
            except (Exception, SystemExit) as exc:  # onnx2tf calls sys.exit on errors
                text = " ".join(log.getvalue().split())
                found = _NOT_IMPLEMENTED.search(text)
                if found:
                    raise UnsupportedOperatorError(found.group(1), "onnx2tf") from exc
                reason = str(exc) if not isinstance(exc, SystemExit) else text[-300:]
                raise ConversionError(f"onnx2tf failed: {' '.join(reason.split())[:300]}") from exc

    def release(self, model: Any) -> None:
        keras = require("keras", "tensorflow")
        keras.backend.clear_session()


def _calibrate_batchnorm(model: Any, shape: tuple[int, ...]) -> Any:
    """Set batch-norm statistics from one batch of random data.

    With the initial statistics (mean 0, variance 1) the activations of a
    randomly initialised MobileNetV2 or EfficientNet fade to about 1e-11, and
    comparing outputs that small says nothing. One training-mode pass with
    ``momentum=0`` stores the batch statistics.
    """
    keras = require("keras", "tensorflow")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    batch = np.random.default_rng(1).uniform(0, 1, (8, *shape[1:])).astype(np.float32)
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    if norms:
        model(batch, training=True)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    return model

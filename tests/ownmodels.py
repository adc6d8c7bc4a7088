"""Models this project never saw, made the way their users make them (for scenario tests).

Each function writes a model file as its framework saves it, and the data beside it, and
returns the file: nothing of kenning is used to make them.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np


def _save(graph: object, path: Path) -> Path:
    """Write an ONNX graph as a model (opset 17, IR 8) to ``path``, making its folder."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def onnx_mlp(folder: Path, features: int = 20, classes: int = 3) -> Path:
    """An MLP on ``features`` floats written with onnx.helper, and a labelled inputs.npy."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.5, (features, 32)).astype(np.float32)
    w2 = rng.normal(0, 0.5, (32, classes)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "w1"], ["h"]),
         helper.make_node("Relu", ["h"], ["hr"]),
         helper.make_node("MatMul", ["hr", "w2"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=1)],
        "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )  # fmt: skip
    path = _save(graph, folder / "mlp.onnx")
    x = rng.random((120, features), dtype=np.float32)
    (folder / "data").mkdir(exist_ok=True)
    np.save(folder / "data" / "inputs.npy", x)
    logits = np.maximum(x @ w1, 0) @ w2
    np.save(folder / "data" / "labels.npy", logits.argmax(axis=1).astype(np.int64))
    return path


def torch_resnet_onnx(folder: Path) -> Path:
    """A small ResNet-style net on 3x32x32 exported to ONNX (and as a .pt2 program beside it),
    and PNGs in class folders."""
    import torch
    from PIL import Image
    from torch import nn

    class Block(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(x + self.bn2(self.conv2(y)))

    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), Block(16), nn.MaxPool2d(2), Block(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    ).eval()  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "resnet.onnx"
    program = torch.export.export(
        net, (torch.zeros(2, 3, 32, 32),), dynamic_shapes=({0: torch.export.Dim("n", max=4096)},)
    )
    torch.export.save(program, str(folder / "resnet.pt2"))  # the same net as a program
    with warnings.catch_warnings():  # the TorchScript exporter many users still call
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(path), input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "n"}},
                          dynamo=False)  # fmt: skip
    rng = np.random.default_rng(5)
    for label in ("cat", "dog", "fox", "owl"):
        (folder / "images" / label).mkdir(parents=True, exist_ok=True)
        for i in range(8):
            pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / "images" / label / f"{i}.png")
    return path


def keras_and_tflite(folder: Path) -> tuple[Path, Path]:
    """A Keras CNN saved as .keras and converted to .tflite, and an unlabelled inputs.npy.

    Its weights are random but not small, and each input has its own brightness, so its
    class scores differ from input to input by far more than an int8 step: an int8 build
    can follow them (an untrained net on plain noise scores every input alike, and its int8
    build rightly shows as collapsed).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(11)
    model = keras.Sequential([
        keras.Input((16, 16, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5, activation="softmax",
                           kernel_initializer=keras.initializers.RandomNormal(stddev=4.0)),
    ])  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    keras_path, tflite_path = folder / "small.keras", folder / "small.tflite"
    model.save(keras_path)
    tflite_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    (folder / "data").mkdir(exist_ok=True)
    rng = np.random.default_rng(2)
    images = rng.random((64, 16, 16, 1), dtype=np.float32) * rng.random((64, 1, 1, 1))
    np.save(folder / "data" / "inputs.npy", images.astype(np.float32))
    return keras_path, tflite_path


def onnx_regressor(folder: Path, features: int = 8) -> Path:
    """A linear regressor (one output) in ONNX, with float targets in labels.npy."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(9)
    w = rng.normal(0, 1, (features, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    path = _save(graph, folder / "linear.onnx")
    x = rng.random((80, features), dtype=np.float32)
    (folder / "data").mkdir(exist_ok=True)
    np.save(folder / "data" / "inputs.npy", x)
    np.save(folder / "data" / "labels.npy", (x @ w)[:, 0] + 0.5)  # off by 0.5: MAE 0.5
    return path


def onnx_two_inputs(folder: Path) -> Path:
    """A model of two inputs (4 and 3 features) in ONNX, with inputs.npz and labels.npy."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    w = rng.normal(0, 1, (7, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
         helper.make_node("MatMul", ["ab", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=1)],
        "two",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    path = _save(graph, folder / "two.onnx")
    a, b = rng.random((90, 4), dtype=np.float32), rng.random((90, 3), dtype=np.float32)
    (folder / "data").mkdir(exist_ok=True)
    np.savez(folder / "data" / "inputs.npz", a=a, b=b)
    np.save(folder / "data" / "labels.npy", (np.hstack([a, b]) @ w).argmax(axis=1))
    return path


def onnx_offset_regressor(folder: Path, features: int = 8) -> Path:
    """A regressor whose output is 1000.42 plus a small signal (an int8 build collapses it).

    Static int8 quantisation maps the output's calibrated range, which always includes 0,
    onto 256 steps of about 4: the signal (a spread under 1) disappears and every input
    gives the same value.
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    w = rng.normal(0, 0.1, (features, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "offset"], ["y"])],
        "offset",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(w, "w"),
         numpy_helper.from_array(np.array([1000.42], np.float32), "offset")],
    )  # fmt: skip
    path = _save(graph, folder / "offset.onnx")
    x = rng.random((60, features), dtype=np.float32)
    (folder / "data").mkdir(exist_ok=True)
    np.save(folder / "data" / "inputs.npy", x)
    np.save(folder / "data" / "labels.npy", (x @ w)[:, 0] + 1000.42)
    return path


def onnx_boxes_first(folder: Path, features: int = 12, classes: int = 4) -> Path:
    """A detector-like head: ``boxes`` (4 values) first, then class ``scores``; labelled data."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    wb = rng.normal(0, 1, (features, 4)).astype(np.float32)
    ws = rng.normal(0, 1, (features, classes)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "wb"], ["boxes"]),
         helper.make_node("MatMul", ["x", "ws"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=1)],
        "boxes-first",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(wb, "wb"), numpy_helper.from_array(ws, "ws")],
    )  # fmt: skip
    path = _save(graph, folder / "boxes.onnx")
    x = rng.random((60, features), dtype=np.float32)
    (folder / "data").mkdir(exist_ok=True)
    np.save(folder / "data" / "inputs.npy", x)
    np.save(folder / "data" / "labels.npy", (x @ ws).argmax(axis=1))
    return path


def onnx_image_classifier(folder: Path, classes: int = 10, size: int = 6) -> Path:
    """A ``classes``-way classifier of ``size`` x ``size`` grey images (NHWC), in ONNX."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(8)
    w = rng.normal(0, 1, (size * size, classes)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "image-classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", size, size, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    return _save(graph, folder / "classifier.onnx")


def onnx_token_classifier(folder: Path, vocab: int = 50, length: int = 6) -> Path:
    """A text model on int64 token ids (embedding, mean, linear), in ONNX."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(6)
    table = rng.normal(0, 1, (vocab, 8)).astype(np.float32)
    w = rng.normal(0, 1, (8, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["embedded"]),
         helper.make_node("ReduceMean", ["embedded"], ["pooled"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["pooled", "w"], ["logits"])],
        "tokens",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", length])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    path = _save(graph, folder / "tokens.onnx")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    np.save(folder / "data" / "inputs.npy", rng.integers(0, vocab, (60, length)))
    return path


def onnx_uint8_image(folder: Path, size: int = 6) -> Path:
    """A model that takes uint8 images (NHWC) and casts them itself, in ONNX."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w = rng.normal(0, 0.01, (size * size, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["floats"], to=TensorProto.FLOAT),
         helper.make_node("Flatten", ["floats"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "uint8-image",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", size, size, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    return _save(graph, folder / "uint8.onnx")


def onnx_fixed_batch(folder: Path, features: int = 4) -> Path:
    """A model whose batch is fixed at 1 (as many exporters write it), in ONNX."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(2).normal(0, 1, (features, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    return _save(graph, folder / "fixed.onnx")


def torch_external_data(folder: Path) -> Path:
    """A PyTorch MLP exported with ``dynamo=True`` and its weights in ``model.onnx.data``."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))
    net.eval()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (torch.zeros(1, 16),), str(path), dynamo=True, external_data=True,
            input_names=["x"], output_names=["scores"],
            dynamic_shapes={"input": {0: torch.export.Dim("batch", min=1, max=1024)}},
        )  # fmt: skip
    return path


def run_scenario_file(folder: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    """Write scenario ``name`` into ``folder`` and run it as a user does (``build-NAME``).

    Each deployment is benched once (``measure.repeats=1``): these tests judge outputs, not the
    noise between runs, which tests/test_verdicts.py and test_tasks_bench.py judge.
    """
    from conftest import ROOT

    scenario = folder / f"{name}.yaml"
    scenario.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.run", str(scenario),
         "--build", str(folder / f"build-{name}"), "--set", "measure.repeats=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip

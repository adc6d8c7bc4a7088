"""MXNet side of :mod:`kenning.onnxconverters.mxnet`, run inside the MXNet venv.

MXNet 1.9.1 needs numpy < 1.24, so it cannot live in kenning's environment.
This script imports only the standard library, numpy, mxnet and onnx (it does
not import kenning) and is run as ``<venv>/bin/python mxnet_worker.py ...``.
Arrays travel as ``.npy`` files; the result is a JSON object written to the
``--result`` file::

    {"ok": true, ...}
    {"ok": false, "step": "export", "kind": "unsupported", "operator": "X", "message": "..."}

Commands:

``probe``
    versions of mxnet, numpy and onnx.
``export --model NAME --input X.npy --reference REF.npy --onnx OUT.onnx``
    build model NAME (seeded), run it on X, save the output as REF, export it to OUT.
``import --onnx IN.onnx --input X.npy --output OUT.npy``
    import IN with ``mxnet.contrib.onnx``, run it on X, save the output as OUT.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

# This folder holds kenning's mxnet.py, which would shadow the real mxnet package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402


def _small_cnn(gluon: Any) -> Any:
    net = gluon.nn.HybridSequential()
    net.add(
        gluon.nn.Conv2D(16, 3, padding=1, activation="relu"),
        gluon.nn.MaxPool2D(2),
        gluon.nn.Conv2D(32, 3, padding=1),
        gluon.nn.BatchNorm(),
        gluon.nn.Activation("relu"),
        gluon.nn.GlobalAvgPool2D(),
        gluon.nn.Flatten(),
        gluon.nn.Dense(10),
    )
    return net


def _mlp(gluon: Any) -> Any:
    net = gluon.nn.HybridSequential()
    net.add(
        gluon.nn.Dense(64, activation="relu"),
        gluon.nn.Dense(32, activation="tanh"),
        gluon.nn.Dense(10),
    )
    return net


def _build(name: str) -> Any:
    import mxnet as mx
    from mxnet import gluon
    from mxnet.gluon.model_zoo import vision

    builders = {
        "resnet18_v1": vision.resnet18_v1,
        "mobilenet1_0": vision.mobilenet1_0,
        "squeezenet1_1": vision.squeezenet1_1,
        "densenet121": vision.densenet121,
        "small_cnn": lambda: _small_cnn(gluon),
        "mlp": lambda: _mlp(gluon),
    }
    if name not in builders:
        raise KeyError(f"unknown model {name}; known: {', '.join(sorted(builders))}")
    mx.random.seed(0)
    np.random.seed(0)
    net = builders[name]()
    net.initialize(mx.init.Xavier())
    return net


def _calibrate_batchnorm(net: Any, shape: tuple[int, ...]) -> None:
    """Store the statistics of one random batch in every BatchNorm (momentum 0).

    With the initial statistics the activations of random deep networks fade
    towards zero and comparing outputs says nothing.
    """
    import mxnet as mx
    from mxnet import autograd, gluon

    norms = []

    def walk(block: Any) -> None:
        if isinstance(block, gluon.nn.BatchNorm):
            norms.append(block)
        for child in block._children.values():
            walk(child)

    walk(net)
    if not norms:
        return
    batch = np.random.default_rng(1).uniform(0, 1, (8, *shape[1:])).astype(np.float32)
    for norm in norms:
        norm._kwargs["momentum"] = 0.0
    # MXNet updates the running statistics in the backward pass
    with autograd.record(train_mode=True):
        output = net(mx.nd.array(batch))
    output.backward()
    for norm in norms:
        norm._kwargs["momentum"] = 0.9


def _export(args: argparse.Namespace) -> dict[str, Any]:
    import mxnet as mx

    step = "build"
    inputs = np.load(args.input)
    try:
        net = _build(args.model)
        _calibrate_batchnorm(net, inputs.shape)
        net.hybridize()
        step = "run"
        np.save(args.reference, net(mx.nd.array(inputs)).asnumpy())
        step = "export"
        with tempfile.TemporaryDirectory() as folder:
            prefix = str(Path(folder) / args.model)
            net.export(prefix)
            mx.onnx.export_model(
                f"{prefix}-symbol.json",
                f"{prefix}-0000.params",
                [inputs.shape],
                [np.float32],
                args.onnx,
            )
    except Exception as exc:  # noqa: BLE001 - reported to the caller as JSON
        return _failure(step, exc, r"No conversion function registered for op type (\w+)")
    return {"ok": True}


def _import(args: argparse.Namespace) -> dict[str, Any]:
    import mxnet as mx

    step = "import"
    try:
        symbol, arguments, auxiliary = mx.contrib.onnx.import_model(args.onnx)
        step = "run"
        inputs = np.load(args.input)
        names = [n for n in symbol.list_inputs() if n not in arguments and n not in auxiliary]
        if len(names) != 1:
            raise ValueError(f"expected one data input, found {names}")
        bound = dict(arguments, **{names[0]: mx.nd.array(inputs)})
        executor = symbol.bind(mx.cpu(), bound, aux_states=auxiliary, grad_req="null")
        np.save(args.output, executor.forward(is_train=False)[0].asnumpy())
    except Exception as exc:  # noqa: BLE001 - reported to the caller as JSON
        return _failure(step, exc, r"Operator (\w+) not implemented")
    return {"ok": True}


def _probe(_: argparse.Namespace) -> dict[str, Any]:
    import mxnet as mx
    import onnx

    return {"ok": True, "mxnet": mx.__version__, "numpy": np.__version__, "onnx": onnx.__version__}


def _failure(step: str, exc: BaseException, unsupported: str) -> dict[str, Any]:
    message = " ".join(str(exc).split()) or type(exc).__name__
    found = re.search(unsupported, message)
    return {
        "ok": False,
        "step": step,
        "kind": "unsupported" if found else "failed",
        "operator": found.group(1) if found else "",
        "message": f"{type(exc).__name__}: {message}"[:500],
        "traceback": traceback.format_exc()[-2000:],
    }


def main(argv: list[str]) -> int:
    """Run one command and write its JSON result; exit 0 unless the result cannot be written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("command", choices=["probe", "export", "import"])
    parser.add_argument("--result", required=True, type=Path)
    parser.add_argument("--model")
    parser.add_argument("--input")
    parser.add_argument("--reference")
    parser.add_argument("--output")
    parser.add_argument("--onnx")
    args = parser.parse_args(argv)
    commands = {"probe": _probe, "export": _export, "import": _import}
    warnings.simplefilter("ignore")
    try:
        result = commands[args.command](args)
    except Exception as exc:  # noqa: BLE001 - e.g. mxnet itself fails to import
        result = _failure("environment", exc, r"^$")
    args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

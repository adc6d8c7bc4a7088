"""ONNX round trips for MXNet, run in MXNet's own venv.

Export uses ``mxnet.onnx.export_model`` and import ``mxnet.contrib.onnx``,
both inside :mod:`kenning.onnxconverters.mxnet_worker`, which this class runs
with the venv's Python (see :mod:`kenning.onnxconverters.mxnet_env`). ONNX
Runtime checks of the exported files run here, like for the other frameworks.
When the venv is missing every model is reported "environment unavailable".
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.onnxconversion import ONNXConversion
from kenning.core.onnxresults import ConversionError, ModelEntry, UnsupportedOperatorError
from kenning.onnxconverters import mxnet_env

_IMAGE = (1, 3, 224, 224)

#: name (as in mxnet_worker), description, input shape
MODELS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("resnet18_v1", "gluon model zoo ResNet-18 v1", _IMAGE),
    ("mobilenet1_0", "gluon model zoo MobileNet 1.0 (depthwise-separable)", _IMAGE),
    ("squeezenet1_1", "gluon model zoo SqueezeNet 1.1", _IMAGE),
    ("densenet121", "gluon model zoo DenseNet-121", _IMAGE),
    ("small_cnn", "convolutions, batch norm, pooling", (1, 3, 32, 32)),
    ("mlp", "dense layers", (1, 64)),
)


@dataclass
class _Worked:
    """A model that lives in the worker: its files in a temporary folder."""

    name: str
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kenning-mx-")))
    export_error: BaseException | None = None


class MXNetONNXConversion(ONNXConversion):
    """MXNet gluon models exported with ``mxnet.onnx``, imported with ``mxnet.contrib.onnx``."""

    framework: ClassVar[str] = "MXNet"
    arguments_structure = (
        Arg(
            "--mxnet-venv",
            Path,
            None,
            f"MXNet venv (default: ${mxnet_env.ENV_VARIABLE} or ~/.cache/kenning/mxnet-venv)",
        ),
        Arg("--mxnet-timeout", float, 600.0, "seconds one MXNet worker call may take"),
    )

    def __init__(self, mxnet_venv: Path | None = None, mxnet_timeout: float = 600.0) -> None:
        self.venv = Path(mxnet_venv) if mxnet_venv else mxnet_env.default_venv()
        self.timeout = mxnet_timeout
        self._versions: dict[str, Any] | None = None

    def models(self) -> list[ModelEntry]:
        return [
            ModelEntry(name, functools.partial(self._build, name), shape, description)
            for name, description, shape in MODELS
        ]

    def version(self) -> str:
        try:
            info = self._probe()
        except ConversionError as exc:
            return f"environment unavailable ({exc})"
        return (
            f"mxnet {info['mxnet']} (numpy {info['numpy']}, onnx {info['onnx']}, venv "
            f"{self.venv}); export mxnet.onnx; import mxnet.contrib.onnx"
        )

    def _probe(self) -> dict[str, Any]:
        if self._versions is None:
            self._versions = mxnet_env.probe(self.venv)
        return self._versions

    def _build(self, name: str) -> _Worked:
        self._probe()
        return _Worked(name)

    def run(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        """Build, run and export in the worker; the export's outcome waits for onnx_export."""
        np.save(model.folder / "input.npy", inputs)
        answer = self._call(
            "export",
            model=model.name,
            input=str(model.folder / "input.npy"),
            reference=str(model.folder / "reference.npy"),
            onnx=str(model.folder / "model.onnx"),
        )
        if not answer["ok"]:
            if answer["step"] != "export":
                raise _error(answer)
            model.export_error = _error(answer)
        return np.load(model.folder / "reference.npy")

    def onnx_export(self, model: Any, path: Path, example: np.ndarray) -> None:
        if model.export_error is not None:
            raise model.export_error
        shutil.move(model.folder / "model.onnx", path)

    def onnx_import(self, path: Path) -> Any:
        return path

    def run_imported(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="kenning-mx-") as folder:
            np.save(Path(folder) / "input.npy", inputs)
            answer = self._call(
                "import",
                onnx=str(model),
                input=str(Path(folder) / "input.npy"),
                output=str(Path(folder) / "output.npy"),
            )
            if not answer["ok"]:
                raise _error(answer)
            return np.load(Path(folder) / "output.npy")

    def release(self, model: Any) -> None:
        if isinstance(model, _Worked):
            shutil.rmtree(model.folder, ignore_errors=True)

    def _call(self, command: str, **options: str) -> dict[str, Any]:
        return mxnet_env.call_worker(self.venv, command, self.timeout, **options)


def _error(answer: dict[str, Any]) -> ConversionError:
    if answer.get("kind") == "unsupported":
        return UnsupportedOperatorError(answer["operator"], f"MXNet {answer['step']}")
    return ConversionError(f"MXNet {answer['step']}: {answer['message']}")

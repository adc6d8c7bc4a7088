"""The Runtime interface: run a compiled model, on the host or on the target.

The target side (used by ``inference_server``) loads a model, takes input
bytes, runs inference and hands output bytes back. The host side drives a
session through a :class:`~kenning.core.runtimeprotocol.RuntimeProtocol` or,
without one, runs the same steps in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from kenning.core.args import Arg, ArgumentsHandler
from kenning.core.iospec import IOSpec
from kenning.utils.errors import ConfigurationError, KenningError


class InferenceError(KenningError):
    """The runtime failed to run a loaded model on the given inputs."""


class Runtime(ArgumentsHandler):
    """Base class of runtimes.

    Parameters
    ----------
    save_model_path : Path
        Where the model received from the host is stored on the target.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, help="where the target stores the received model"),
    )

    #: name of the runtime's framework module, e.g. ``"onnxruntime"``
    framework: ClassVar[str] = ""
    #: model formats it loads (keys of :data:`kenning.core.formats.FORMATS`)
    model_formats: ClassVar[tuple[str, ...]] = ()

    def __init__(self, save_model_path: Path) -> None:
        self.save_model_path = Path(save_model_path)
        self.io_spec: IOSpec | None = None

    # -- target side ---------------------------------------------------------
    def check_ready(self) -> None:
        """Check, before serving, what can be checked without a model (default: nothing).

        Raises
        ------
        ConfigurationError
            If the runtime cannot work here (e.g. a delegate library that is missing).
        """

    def prepare_model(self, model: bytes | None) -> None:
        """Store ``model`` (when given) at ``save_model_path`` and load it."""
        if model is not None:
            self.save_model_path.parent.mkdir(parents=True, exist_ok=True)
            self.save_model_path.write_bytes(model)
        self.load_model(self.save_model_path)

    def load_model(self, path: Path) -> None:
        """Load the compiled model and its I/O specification from ``path``."""
        raise NotImplementedError

    def prepare_input(self, data: bytes) -> None:
        """Deserialise and store one batch of inputs."""
        raise NotImplementedError

    def run(self) -> None:
        """Run inference on the stored inputs."""
        raise NotImplementedError

    def upload_output(self) -> bytes:
        """Serialise the outputs of the last :meth:`run`."""
        raise NotImplementedError

    def get_framework_and_version(self) -> tuple[str, str]:
        """The runtime's name and version."""
        raise NotImplementedError

    # -- host side, in-process -------------------------------------------------
    def infer(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run one batch through the target-side steps without a protocol.

        ``inputs`` are what the model wrapper's ``preprocess_input`` produces
        (real values; quantised inputs are quantised here through the I/O
        specification), and the outputs come back dequantised, before the
        wrapper's ``postprocess_outputs``.

        Raises
        ------
        ConfigurationError
            If no model is loaded, or the inputs do not fit the specification.
        InferenceError
            If the runtime fails.
        """
        if self.io_spec is None:
            raise ConfigurationError(f"{type(self).__name__}: load_model() before infer()")
        self.prepare_input(self.io_spec.inputs_to_bytes(inputs))
        self.run()
        return self.io_spec.outputs_from_bytes(self.upload_output())

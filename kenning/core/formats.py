"""Model file formats: the suffixes that name them and the wrapper that reads each.

One table, used to pick a wrapper for a model file a user brings (``model: {file: ...}`` in
a scenario) and to name the artifact each step of a deployment chain writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kenning.utils.errors import ConfigurationError


@dataclass(frozen=True)
class ModelFormat:
    """One format: its name as compilers and runtimes know it, file suffixes, reader.

    Attributes
    ----------
    name : str
        ``onnx``, ``tflite``, ``keras``, ``torch``, ``tvm``...
    suffixes : tuple of str
        File suffixes, the one written first.
    wrapper : str
        Short name of the ModelWrapper that reads such a file with no Python of the user's
        (empty: a format only a model-specific wrapper or a runtime reads).
    """

    name: str
    suffixes: tuple[str, ...]
    wrapper: str = ""

    @property
    def suffix(self) -> str:
        """The suffix of files this format is written as."""
        return self.suffixes[0]


FORMATS: dict[str, ModelFormat] = {
    f.name: f
    for f in (
        ModelFormat("onnx", (".onnx",), "onnx-model"),
        ModelFormat("tflite", (".tflite",), "tflite-model"),
        ModelFormat("keras", (".keras", ".h5"), "keras-model"),
        ModelFormat("torch", (".pth", ".pt")),
        ModelFormat("torch-exported", (".pt2",), "torch-exported"),
        ModelFormat("tvm", (".so", ".tar")),
        # a folder of C sources a firmware build compiles (kenning.compilers.onnxc)
        ModelFormat("c-model", (".onnx-c",)),
    )
}


def format_of_file(path: Path | str) -> ModelFormat:
    """The format of a model file, from its suffix.

    Raises
    ------
    ConfigurationError
        If no format (with a wrapper that reads it) has that suffix.
    """
    if (Path(path) / "saved_model.pb").is_file():
        raise ConfigurationError(
            f"{path} is a TensorFlow SavedModel folder, which kenning does not read: convert it "
            f"to ONNX (`python -m tf2onnx.convert --saved-model {path} --output model.onnx`) "
            "or to TFLite (`tf.lite.TFLiteConverter.from_saved_model`), and name that file"
        )
    suffix = Path(path).suffix.lower()
    for item in FORMATS.values():
        if suffix in item.suffixes and item.wrapper:
            return item
    known = ", ".join(s for f in FORMATS.values() if f.wrapper for s in f.suffixes)
    raise ConfigurationError(
        f"{path}: kenning reads model files ending in {known}; for another format name the "
        "ModelWrapper that reads it (`wrapper:` beside `file:`)"
    )

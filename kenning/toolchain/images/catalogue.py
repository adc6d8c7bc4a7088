"""The images kenning builds: names, architectures, tags and where their files live.

Each image is a folder ``images/<name>/`` in the work tree holding a ``Dockerfile``, the
``requirements.in`` it is resolved from and the ``requirements.lock`` it is built from
(plus ``apt.in``/``apt.lock`` for Debian packages). This module is plain data: no Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kenning.executors.labels import image_tag
from kenning.utils.errors import ConfigurationError
from kenning.utils.provenance import sha256_file, work_tree


@dataclass(frozen=True)
class ImageSpec:
    """One image of the toolchain.

    Attributes
    ----------
    name : str
        Folder name under ``images/`` and tag name.
    arch : str
        Docker architecture it is built for (``amd64`` or ``arm64``).
    description : str
        One line for listings.
    local_wheels : tuple of str
        Glob patterns of wheels that are not on PyPI; found in local wheel folders.
    index_url : str
        Extra package index for those wheels when no local copy is found.
    index_arg : str
        The Dockerfile build argument naming that index (set empty when a local copy is used).
    parent : str
        Catalogue image this one is built FROM (passed as ``TARGET_IMAGE`` instead of
        ``BASE_IMAGE``); its lock files count as this image's too. Empty: the Python base.
    sources : tuple of str
        Work-tree folders besides kenning's own the Dockerfile copies (sent in the build
        context and counted in its sources hash), e.g. the firmware's ``targets/mcu``.
    """

    name: str
    arch: str
    description: str
    local_wheels: tuple[str, ...] = ()
    index_url: str = ""
    index_arg: str = ""
    parent: str = ""
    sources: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """The image tag, e.g. ``kenning/compile-tvm:latest``."""
        return image_tag(self.name)

    @property
    def base_arg(self) -> str:
        """The Dockerfile build argument naming the image to build FROM."""
        return "TARGET_IMAGE" if self.parent else "BASE_IMAGE"


CATALOGUE: dict[str, ImageSpec] = {
    spec.name: spec
    for spec in (
        ImageSpec("base", "amd64", "kenning core, datasets and reports; no framework"),
        ImageSpec("train-tensorflow", "amd64", "TensorFlow 2.21 training, tf2onnx"),
        ImageSpec(
            "train-torch",
            "amd64",
            "PyTorch 2.13 (CPU) training, ONNX export",
            local_wheels=("torch-2.13.0+cpu-cp311-cp311-*x86_64.whl",),
            index_url="https://download.pytorch.org/whl/cpu",
            index_arg="TORCH_INDEX_URL",
        ),
        ImageSpec("compile-tflite", "amd64", "TFLite converter (TensorFlow) and LiteRT"),
        ImageSpec("compile-tvm", "amd64", "Apache TVM 0.27, aarch64 cross compiler, ONNX Runtime"),
        ImageSpec(
            "compile-mcu",
            "amd64",
            "ONNX -> C (emx-onnx-cgen), arm-none-eabi-gcc, the MCU firmware's sources",
            sources=("targets/mcu",),
        ),
        ImageSpec("target-amd64", "amd64", "runtime only: LiteRT, ONNX Runtime, TVM runtime"),
        ImageSpec(
            "target-arm64", "arm64", "runtime only (arm64): LiteRT, ONNX Runtime, TVM runtime"
        ),
        ImageSpec(
            "board-amd64", "amd64", "SSH test board: target-amd64 + sshd", parent="target-amd64"
        ),
        ImageSpec(
            "board-arm64", "arm64", "SSH test board: target-arm64 + sshd", parent="target-arm64"
        ),
        ImageSpec("mxnet", "amd64", "MXNet 1.9.1, numpy 1.23, onnx 1.14 (ONNX table)"),
    )
}


def spec(name: str) -> ImageSpec:
    """The catalogue entry for ``name``.

    Raises
    ------
    ConfigurationError
        If there is no such image.
    """
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown image '{name}'; known images: {', '.join(CATALOGUE)}"
        ) from None


def images_dir(root: Path | None = None) -> Path:
    """The ``images/`` folder of the work tree.

    Raises
    ------
    ConfigurationError
        If kenning is not running from a work tree (e.g. inside an image).
    """
    path = (root or work_tree()) / "images"
    if not path.is_dir():
        raise ConfigurationError(
            f"{path} not found: image definitions live in kenning's source tree; "
            "run from a clone of the repository (pip install -e .)"
        )
    return path


def lock_files(name: str, root: Path | None = None) -> list[Path]:
    """The lock files of image ``name`` (``requirements.lock``, and ``apt.lock`` if any).

    An image built FROM a parent also depends on the parent's lock files; its own file of
    the same name wins.
    """
    image = spec(name)
    inherited = lock_files(image.parent, root) if image.parent else []
    own = sorted((images_dir(root) / image.name).glob("*.lock"))
    names = {path.name for path in own}
    return sorted([p for p in inherited if p.name not in names] + own, key=lambda p: p.name)


def lock_hashes(name: str, root: Path | None = None) -> dict[str, str]:
    """sha256 of each lock file of image ``name`` in the work tree, by file name."""
    return {path.name: sha256_file(path) for path in lock_files(name, root)}

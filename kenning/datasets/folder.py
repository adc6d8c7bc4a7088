"""A dataset in a folder: images in class sub-folders, or ``.npy`` inputs with labels.

Two layouts, found by what the folder holds:

* ``CLASS/IMAGE`` (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``): class names are the
  sub-folder names, sorted; each image is resized (``--resize H,W``), scaled
  (``value / --scale``), normalised (``(x - --mean) / --std`` per channel) and laid out as
  ``--layout`` (``NHWC`` or ``NCHW``); ``--class-indices cat=281,dog=207`` gives each class
  folder the model's index of its class (a 1,000-class model scored on a few folders);
* ``inputs.npy`` (N samples of any shape), or ``inputs.npz`` (one array of N samples per model
  input: matched by name when the arrays are named as the model's inputs, else in the model's
  input order) with an optional ``labels.npy``: class indices
  (integers) or regression targets (floats); without it the run reports speed and agreement.
  The preprocessing flags apply to it too (its layout is taken as given).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.dataset import Dataset
from kenning.utils.errors import ConfigurationError, DatasetError

IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigurationError(f"expected comma-separated numbers, got {text!r}") from exc


def _mapping(text: str) -> dict[str, int]:
    """``"cat=281,dog=207"`` as ``{"cat": 281, "dog": 207}``."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, index = part.rpartition("=")
        if not name or not index.strip().isdigit():
            raise ConfigurationError(
                f"--class-indices takes FOLDER=INDEX,... (an index of 0 or more); got {part!r}"
            )
        out[name.strip()] = int(index)
    return out


class FolderDataset(Dataset):
    """Your data in a folder (class sub-folders of images, or inputs.npy and labels.npy)."""

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--dataset-root", Path, help="the folder"),
        Arg("--resize", str, "", "images: resize to H,W (default: as they are)"),
        Arg("--scale", float, 1.0, "divide values by this (255 for 8-bit images)"),
        Arg("--mean", str, "", "subtract per channel, comma-separated (after --scale)"),
        Arg("--std", str, "", "divide per channel, comma-separated (after --mean)"),
        Arg("--layout", str, "NHWC", "images: NHWC or NCHW", choices=("NHWC", "NCHW")),
        Arg(
            "--class-indices",
            str,
            "",
            "class folders: the model's class index of each, as FOLDER=INDEX,... "
            "(default: the folders in sorted order are classes 0, 1, ...)",
        ),
    )

    def __init__(
        self,
        dataset_root: Path,
        resize: str = "",
        scale: float = 1.0,
        mean: str = "",
        std: str = "",
        layout: str = "NHWC",
        class_indices: str = "",
        **kwargs: Any,
    ) -> None:
        if scale == 0:
            raise ConfigurationError("--scale must not be 0")
        size = [int(v) for v in _numbers(resize)] if resize else []
        if size and (len(size) != 2 or min(size) < 1):
            raise ConfigurationError(f"--resize takes H,W (two positive sizes), got {resize!r}")
        self.resize, self.scale, self.layout = size, scale, layout
        self.mean = np.asarray(_numbers(mean), np.float32) if mean else None
        self.std = np.asarray(_numbers(std), np.float32) if std else None
        if self.std is not None and np.any(self.std == 0):
            raise ConfigurationError("--std must not contain 0")
        self._classes: list[str] = []
        self._inputs: list[np.ndarray] | None = None
        #: the arrays' names in inputs.npz (empty: one unnamed array, or images)
        self.input_names: list[str] = []
        self.class_indices = _mapping(class_indices)
        super().__init__(dataset_root, **kwargs)

    def prepare(self) -> None:
        if self.root is None or not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist", self.root)
        if (self.root / "inputs.npy").is_file() or (self.root / "inputs.npz").is_file():
            self._prepare_arrays()
            return
        folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        numbers = self._folder_numbers([f.name for f in folders])
        for folder in folders:
            images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGES)
            self.dataX += images
            self.dataY += [numbers[folder.name]] * len(images)
        self._classes = [str(i) for i in range(max(numbers.values(), default=-1) + 1)]
        for name, number in numbers.items():
            self._classes[number] = name
        if not self.dataX:
            raise DatasetError(
                f"{self.root} holds neither inputs.npy nor class sub-folders of images "
                f"({', '.join(IMAGES)})",
                self.root,
            )

    def _folder_numbers(self, names: list[str]) -> dict[str, int]:
        """Each class folder's class index: sorted order, or ``--class-indices``."""
        if not self.class_indices:
            return {name: number for number, name in enumerate(names)}
        missing = [name for name in names if name not in self.class_indices]
        if missing:
            raise ConfigurationError(
                f"--class-indices gives no index for class folder(s) {', '.join(missing)} "
                f"of {self.root}: add FOLDER=INDEX for each"
            )
        return {name: self.class_indices[name] for name in names}

    def _prepare_arrays(self) -> None:
        assert self.root is not None
        single = self.root / "inputs.npy"
        if single.is_file():
            self._inputs = [np.load(single, allow_pickle=False)]
        else:
            with np.load(self.root / "inputs.npz", allow_pickle=False) as arrays:
                self._inputs = [arrays[name] for name in arrays.files]
                self.input_names = list(arrays.files)
            if len({len(a) for a in self._inputs}) != 1:
                raise DatasetError(
                    f"the arrays of {self.root / 'inputs.npz'} hold different numbers of samples",
                    self.root,
                )
        labels_path = self.root / "labels.npy"
        count = len(self._inputs[0])
        self.dataX = list(range(count))
        if not labels_path.is_file():
            self.task = "none"  # type: ignore[misc]
            self.dataY = [-1] * count
            return
        labels = np.load(labels_path, allow_pickle=False)
        if len(labels) != count:
            raise DatasetError(
                f"{labels_path} has {len(labels)} labels for {count} inputs", labels_path
            )
        if np.issubdtype(labels.dtype, np.integer):
            self.dataY = [int(v) for v in labels]
            self._classes = [str(i) for i in range(int(labels.max()) + 1)]
        else:
            self.task = "regression"  # type: ignore[misc]
            self.dataY = [float(v) for v in labels]  # type: ignore[misc]

    def _normalise(self, batch: np.ndarray) -> np.ndarray:
        batch = batch.astype(np.float32) / np.float32(self.scale)
        if self.mean is not None:
            batch = batch - self.mean
        if self.std is not None:
            batch = batch / self.std
        return batch

    def _image(self, path: Path) -> np.ndarray:
        from PIL import Image

        with Image.open(path) as opened:
            image = opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened
            if self.resize:
                image = image.resize((self.resize[1], self.resize[0]))
            array = np.asarray(image, dtype=np.float32)
        return array[..., np.newaxis] if array.ndim == 2 else array

    def prepare_input_samples(self, samples: list[Any]) -> Any:
        if self._inputs is not None:  # one array, or one per input of a multi-input model
            picked = np.asarray(samples, dtype=np.int64)
            arrays = [
                self._normalise(a[picked]) if np.issubdtype(a.dtype, np.floating) else a[picked]
                for a in self._inputs
            ]
            return arrays[0] if len(arrays) == 1 else arrays
        batch = self._normalise(np.stack([self._image(Path(p)) for p in samples]))
        return (
            np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) if self.layout == "NCHW" else batch
        )

    def prepare_output_samples(self, samples: list[Any]) -> np.ndarray:
        return np.asarray(samples, dtype=np.float32 if self.task == "regression" else np.int64)

    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        if self._classes and self.task == "classification":
            return super().split_indices()
        everything = np.arange(len(self))  # no classes to stratify: a seeded split
        shuffled = np.random.default_rng(self.split_seed).permutation(everything)
        held = max(1, round(len(everything) * self.validation_fraction))
        return np.sort(shuffled[held:]), np.sort(shuffled[:held])

    def get_class_names(self) -> list[str]:
        return list(self._classes)

    def order_inputs(self, names: Sequence[str]) -> None:
        """Match ``inputs.npz`` arrays to the model's inputs by name when every name matches.

        Otherwise they stay in the file's order (arrays named ``arr_0``... by ``np.savez``).
        """
        if self._inputs is None or sorted(names) != sorted(self.input_names):
            return
        self._inputs = [self._inputs[self.input_names.index(name)] for name in names]
        self.input_names = list(names)

    @property
    def classes_are_names(self) -> bool:
        """Sorted class folders are names; ``labels.npy`` and ``--class-indices`` are indices."""
        return self._inputs is None and not self.class_indices

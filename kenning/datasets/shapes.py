"""Generated shapes with boxes: an offline object-detection dataset, made in-process.

Each sample is a grey ``size x size`` image with one to ``--max-objects`` filled
rectangles, circles and triangles (the three classes) of random grey levels on a noisy
background; its label is the list of the shapes' boxes. Everything is drawn from
``--data-seed``, so the same flags give the same images and boxes on every machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.dataset import Dataset
from kenning.utils.errors import ConfigurationError

CLASSES = ("rectangle", "circle", "triangle")


def _draw(image: np.ndarray, kind: int, box: np.ndarray, level: float) -> None:
    """Fill shape ``kind`` inside ``box`` (x1, y1, x2, y2, pixels) with grey ``level``."""
    x1, y1, x2, y2 = box
    size = image.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    inside = (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)
    if kind == 1:  # an ellipse touching its box
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        inside &= ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    elif kind == 2:  # apex at the top centre, base at the bottom
        half = (x2 - x1) / 2 * (ys - y1) / (y2 - y1)
        inside &= np.abs(xs - (x1 + x2) / 2) <= half
    image[inside] = level


class ShapesDataset(Dataset):
    """Seeded grey images of rectangles, circles and triangles, with their boxes as labels.

    Inputs are float32 NHWC batches of shape ``(N, size, size, 1)`` in [0, 1]. A label is a
    float32 array ``(objects, 5)``: ``x1, y1, x2, y2`` in pixels and the class index.
    """

    task: ClassVar[str] = "detection"

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--dataset-root", Path, None, "unused: the images are generated"),
        Arg("--samples", int, 2000, "how many images to generate"),
        Arg("--image-size", int, 64, "side of the square images, in pixels"),
        Arg("--max-objects", int, 3, "most shapes in one image (at least one)"),
        Arg("--data-seed", int, 0, "seed of the generated images"),
    )

    def __init__(
        self,
        dataset_root: Path | None = None,
        batch_size: int = 1,
        download_dataset: bool = False,
        validation_fraction: float = 0.25,
        split_seed: int = 12345,
        samples: int = 2000,
        image_size: int = 64,
        max_objects: int = 3,
        data_seed: int = 0,
    ) -> None:
        if samples < 2:
            raise ConfigurationError(f"--samples must be at least 2, got {samples}")
        if image_size < 16:
            raise ConfigurationError(f"--image-size must be at least 16, got {image_size}")
        if max_objects < 1:
            raise ConfigurationError(f"--max-objects must be at least 1, got {max_objects}")
        self.samples, self.image_size = samples, image_size
        self.max_objects, self.data_seed = max_objects, data_seed
        super().__init__(
            dataset_root, batch_size, download_dataset, validation_fraction, split_seed
        )

    def prepare(self) -> None:
        rng = np.random.default_rng(self.data_seed)
        size = self.image_size
        self._images = np.empty((self.samples, size, size, 1), dtype=np.float32)
        self._boxes: list[np.ndarray] = []
        for n in range(self.samples):
            image = rng.uniform(0.0, 0.25, (size, size)).astype(np.float32)
            boxes: list[list[float]] = []
            for _ in range(int(rng.integers(1, self.max_objects + 1))):
                w, h = rng.uniform(0.15, 0.4, 2) * size
                x1, y1 = rng.uniform(0, size - w), rng.uniform(0, size - h)
                box = np.array([x1, y1, x1 + w, y1 + h], dtype=np.float32)
                kind = int(rng.integers(len(CLASSES)))
                _draw(image, kind, box, float(rng.uniform(0.55, 1.0)))
                boxes.append([*box.tolist(), float(kind)])
            self._images[n, :, :, 0] = image
            self._boxes.append(np.asarray(boxes, dtype=np.float32))
        self.dataX = list(range(self.samples))
        self.dataY = list(range(self.samples))  # a label is looked up by the sample's index

    def prepare_input_samples(self, samples: list[Any]) -> np.ndarray:
        return self._images[np.asarray(samples, dtype=np.int64)]

    def prepare_output_samples(self, samples: list[int]) -> np.ndarray:
        """The samples' boxes: an object array of ``(objects, 5)`` float32 arrays."""
        out = np.empty(len(samples), dtype=object)
        for k, index in enumerate(samples):
            out[k] = self._boxes[int(index)]
        return out

    def get_class_names(self) -> list[str]:
        return list(CLASSES)

    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Train and validation indices: a seeded permutation (images have several classes)."""
        order = np.random.default_rng(self.split_seed).permutation(len(self))
        n_val = max(1, round(len(order) * self.validation_fraction))
        return np.sort(order[n_val:]), np.sort(order[:n_val])

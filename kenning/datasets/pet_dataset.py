"""The Oxford-IIIT Pet dataset: 7,349 photos of 37 cat and dog breeds.

The layout is that of the two official archives unpacked into ``--dataset-root``::

    ROOT/images/Abyssinian_1.jpg ...            images.tar.gz
    ROOT/annotations/list.txt                   annotations.tar.gz
    ROOT/annotations/trainval.txt, test.txt     (also trimaps/ and xmls/, unused here)

``list.txt`` starts with ``#`` comment lines and then holds one
``Image CLASS-ID SPECIES BREED-ID`` row per sample (CLASS-ID 1..37, SPECIES
1 = cat, 2 = dog); ``trainval.txt`` and ``test.txt`` have the same columns and
define the official split, used here as train and validation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.dataset import Dataset
from kenning.utils.download import download, extract_tar
from kenning.utils.errors import ConfigurationError, DatasetError

log = logging.getLogger("kenning.datasets.pet")

#: where the University of Oxford publishes the archives
DEFAULT_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
#: archive name -> MD5 (the same values torchvision's OxfordIIITPet pins)
ARCHIVES: dict[str, str] = {
    "images.tar.gz": "5c4f3ee8e5d25df40f4fd59a7f44e54c",
    "annotations.tar.gz": "95a8c909bbe2e81eed6a22bccdf3f68f",
}
SPECIES = ["cat", "dog"]
_DOWNLOAD_HINT = "pass --download-dataset to download it"


class PetDataset(Dataset):
    """Oxford-IIIT Pet: 37 breeds (or 2 species); official trainval/test split.

    Inputs are float32 NHWC batches of shape ``(N, S, S, 3)`` in [0, 1], where
    ``S`` is ``--image-size``; images are converted to RGB and resized.

    Parameters
    ----------
    dataset_root : Path
        Folder holding ``images/`` and ``annotations/``.
    classify_by : {"breeds", "species"}
        37 breed classes or the 2 species classes (cat, dog).
    image_size : int
        Side of the square input images.
    dataset_mirror : str, optional
        Base URL serving ``images.tar.gz`` and ``annotations.tar.gz``.
    **kwargs
        Passed to :class:`~kenning.core.dataset.Dataset`.

    Raises
    ------
    ConfigurationError
        If ``classify_by`` or ``image_size`` is invalid.
    DatasetError
        If the files are missing or malformed, or the download fails.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg(
            "--classify-by",
            str,
            "breeds",
            "classes: 37 breeds or 2 species",
            choices=("breeds", "species"),
        ),
        Arg("--image-size", int, 224, "side of the square input images in pixels"),
        Arg(
            "--dataset-mirror",
            str,
            None,
            "base URL (http(s):// or file://) serving images.tar.gz and annotations.tar.gz "
            f"instead of {DEFAULT_URL}",
        ),
        Arg(
            "--validation-fraction",
            float,
            0.25,
            "unused: the official trainval/test lists define the split",
        ),
        Arg(
            "--split-seed", int, 12345, "unused: the official trainval/test lists define the split"
        ),
    )

    def __init__(
        self,
        dataset_root: Path | None,
        classify_by: str = "breeds",
        image_size: int = 224,
        dataset_mirror: str | None = None,
        **kwargs: Any,
    ) -> None:
        if classify_by not in ("breeds", "species"):
            raise ConfigurationError(
                f"--classify-by must be 'breeds' or 'species', got '{classify_by}'"
            )
        if image_size < 1:
            raise ConfigurationError(f"--image-size must be positive, got {image_size}")
        if dataset_root is None:
            raise ConfigurationError("PetDataset needs --dataset-root")
        self.classify_by = classify_by
        self.image_size = image_size
        self.mirror = dataset_mirror or DEFAULT_URL
        self.class_names: list[str] = []
        self.names: list[str] = []
        self._train: np.ndarray = np.zeros(0, dtype=np.int64)
        self._val: np.ndarray = np.zeros(0, dtype=np.int64)
        super().__init__(dataset_root, **kwargs)

    # -- download --------------------------------------------------------------
    def _unpacked(self, archive: str) -> bool:
        """Whether every file the archive provides (and prepare needs) is present."""
        assert self.root is not None
        notes = self.root / "annotations"
        lists = [notes / name for name in ("list.txt", "trainval.txt", "test.txt")]
        if not all(p.is_file() for p in lists):
            return False
        if archive == "annotations.tar.gz":
            return True
        images = self.root / "images"
        return all(
            (images / f"{image}.jpg").is_file() for image, _, _ in self._read_rows("list.txt")
        )

    def download_dataset(self) -> None:
        """Download, verify and unpack the archives whose files are not all present.

        Each archive is deleted once unpacked.

        Raises
        ------
        DownloadError
            On a network, HTTP or checksum failure.
        DatasetError
            If an archive cannot be unpacked.
        """
        assert self.root is not None
        hint = " (pass --dataset-mirror URL)"
        # annotations first: list.txt tells which images must be present
        for archive in sorted(ARCHIVES):
            if self._unpacked(archive):
                log.info("%s already unpacked in %s", archive, self.root)
                continue
            url = f"{self.mirror.rstrip('/')}/{archive}"
            path = download(url, self.root / archive, md5=ARCHIVES[archive], hint=hint)
            extract_tar(path, self.root)
            path.unlink()

    # -- parsing ----------------------------------------------------------------
    def _require(self, path: Path) -> Path:
        assert self.root is not None
        if not self.root.is_dir():
            raise DatasetError(
                f"Oxford-IIIT Pet dataset not found in {self.root}; {_DOWNLOAD_HINT}", self.root
            )
        if not path.is_file():
            raise DatasetError(
                f"Oxford-IIIT Pet {path.relative_to(self.root).as_posix()} not found in "
                f"{self.root}; {_DOWNLOAD_HINT}",
                self.root,
            )
        return path

    def _read_rows(self, name: str) -> list[tuple[str, int, int]]:
        """``(image, class_id, species)`` rows of an annotations list file."""
        assert self.root is not None
        path = self._require(self.root / "annotations" / name)
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            try:
                if len(fields) != 4:
                    raise ValueError(f"expected 4 columns, got {len(fields)}")
                image, class_id, species = fields[0], int(fields[1]), int(fields[2])
                if species not in (1, 2) or class_id < 1:
                    raise ValueError("CLASS-ID must be >= 1 and SPECIES 1 or 2")
            except ValueError as exc:
                raise DatasetError(
                    f"{path}:{number}: malformed line '{line.strip()}' ({exc}); "
                    f"delete {self.root} and {_DOWNLOAD_HINT} again",
                    self.root,
                ) from exc
            rows.append((image, class_id, species))
        return rows

    def prepare(self) -> None:
        assert self.root is not None
        for name in ("list.txt", "trainval.txt", "test.txt"):
            self._require(self.root / "annotations" / name)
        rows = self._read_rows("list.txt")
        breeds: dict[int, str] = {}
        for image, class_id, _ in rows:
            breed = image.rsplit("_", 1)[0]
            if breeds.setdefault(class_id, breed) != breed:
                raise DatasetError(
                    f"annotations/list.txt in {self.root} gives CLASS-ID {class_id} to both "
                    f"{breeds[class_id]} and {breed}",
                    self.root,
                )
        if self.classify_by == "species":
            self.class_names = list(SPECIES)
            labels = [species - 1 for _, _, species in rows]
        else:
            # Class ids as listed; contiguous indices even if some breeds are absent.
            ids = sorted(breeds)
            self.class_names = [breeds[i] for i in ids]
            index = {class_id: n for n, class_id in enumerate(ids)}
            labels = [index[class_id] for _, class_id, _ in rows]
        images = self.root / "images"
        self.names = [image for image, _, _ in rows]
        self.dataX = [images / f"{image}.jpg" for image in self.names]
        self.dataY = labels
        missing = [p for p in self.dataX if not p.is_file()]
        if missing:
            raise DatasetError(
                f"{len(missing)} Oxford-IIIT Pet images (e.g. images/{missing[0].name}) not "
                f"found in {self.root}; {_DOWNLOAD_HINT}",
                self.root,
            )
        position = {name: n for n, name in enumerate(self.names)}
        self._train = self._split("trainval.txt", position)
        self._val = self._split("test.txt", position)

    def _split(self, name: str, position: dict[str, int]) -> np.ndarray:
        rows = self._read_rows(name)
        unknown = [image for image, _, _ in rows if image not in position]
        if unknown:
            raise DatasetError(
                f"annotations/{name} in {self.root} lists {len(unknown)} images that "
                f"annotations/list.txt does not (e.g. {unknown[0]})",
                self.root,
            )
        return np.sort(np.asarray([position[image] for image, _, _ in rows], dtype=np.int64))

    # -- samples ------------------------------------------------------------------
    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """The official split: ``trainval.txt`` for training, ``test.txt`` for validation."""
        return self._train, self._val

    def get_class_names(self) -> list[str]:
        return list(self.class_names)

    def input_shape(self) -> tuple[int, ...]:
        return (self.image_size, self.image_size, 3)

    def prepare_input_samples(self, samples: list[Any]) -> np.ndarray:
        """Load, convert to RGB and resize images; float32 NHWC in [0, 1].

        Raises
        ------
        DatasetError
            If an image cannot be decoded.
        """
        batch = np.empty((len(samples), self.image_size, self.image_size, 3), dtype=np.float32)
        for n, path in enumerate(samples):
            batch[n] = self._load_image(Path(path))
        return batch

    def _load_image(self, path: Path) -> np.ndarray:
        from PIL import Image

        size = (self.image_size, self.image_size)
        try:
            with Image.open(path) as img:
                # JPEG decoding at a reduced scale: much faster for large photos.
                img.draft("RGB", size)
                # A few files of the real archive are palette PNGs or CMYK JPEGs.
                rgb = img.convert("RGBA" if img.mode == "P" else img.mode).convert("RGB")
                rgb = rgb.resize(size, Image.Resampling.BILINEAR)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DatasetError(
                f"cannot read image {path}: {exc}; the file is corrupt, delete it and "
                f"{_DOWNLOAD_HINT} again",
                self.root,
            ) from exc
        return np.asarray(rgb, dtype=np.float32) / 255.0

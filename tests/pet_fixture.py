"""A tiny Oxford-IIIT Pet dataset in the real archives' layout, and a local HTTP mirror.

Four breeds with their real CLASS-ID / SPECIES / BREED-ID values (two cat
breeds, capitalised; two dog breeds, lower case), six real JPEG photos each,
``annotations/list.txt`` with the real six-line header, the official-style
``trainval.txt`` / ``test.txt`` lists, trimaps and xmls, plus the quirks of the
real archive that a reader must survive: a greyscale and a CMYK JPEG, a stray
``.mat`` file in ``images/`` and an image file not listed in ``list.txt``.
:func:`pack` makes ``images.tar.gz`` and ``annotations.tar.gz`` whose top-level
folders are ``images/`` and ``annotations/``, as in the real archives.

Importing ``pet_tree_fixture`` (etc.) into a test module makes the ``pet_tree`` fixture
(etc.) available there.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

#: breed, CLASS-ID, SPECIES (1 cat, 2 dog), BREED-ID: the real values
BREEDS = [
    ("Abyssinian", 1, 1, 1),
    ("american_bulldog", 2, 2, 1),
    ("beagle", 5, 2, 4),
    ("Bengal", 6, 1, 2),
]
IMAGES_PER_BREED = 6
#: per breed, image numbers in test.txt (the rest go to trainval.txt)
TEST_NUMBERS = (2, 5)

HEADER = (
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#ID: 1:37 Class ids\n"
    "#SPECIES: 1:Cat 2:Dog\n"
    "#BREED ID: 1-25:Cat 1:12:Dog\n"
    "#All images with 1st letter as captial are cat images\n"
    "#images with small first letter are dog images\n"
)


@dataclass(frozen=True)
class PetFixture:
    """Where the fixture lives and what it holds."""

    root: Path
    names: list[str]
    trainval: list[str]
    test: list[str]


def _photo(rng: np.random.Generator, shade: int, size: tuple[int, int]) -> Image.Image:
    """A smooth, class-tinted picture with noise: compresses like a photo."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // w), (yy * 255 // h), np.full_like(xx, shade)], axis=-1)
    noise = rng.integers(-30, 30, size=(h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def build_tree(root: Path) -> PetFixture:
    """Write ``images/`` and ``annotations/`` under ``root``.

    Returns
    -------
    PetFixture
        The root and the sample names in list order.
    """
    rng = np.random.default_rng(0)
    images, notes = root / "images", root / "annotations"
    for folder in (images, notes / "trimaps", notes / "xmls"):
        folder.mkdir(parents=True, exist_ok=True)
    names, trainval, test, lines = [], [], [], []
    # list.txt is sorted by image name, case-insensitively, like the real one
    for breed, class_id, species, breed_id in sorted(BREEDS, key=lambda b: b[0].lower()):
        for number in range(1, IMAGES_PER_BREED + 1):
            name = f"{breed}_{number}"
            size = (40 + 7 * number, 32 + 5 * number)
            img = _photo(rng, 60 * class_id % 256, size)
            if number == 3 and species == 1:
                img = img.convert("L")  # the real archive has greyscale photos
            if number == 4 and species == 2:
                img = img.convert("CMYK")  # ... and CMYK ones
            img.save(images / f"{name}.jpg", "JPEG", quality=85)
            trimap = np.full(size[::-1], 2, dtype=np.uint8)
            trimap[4:-4, 4:-4] = 1
            Image.fromarray(trimap).save(notes / "trimaps" / f"{name}.png")
            if number == 1:
                (notes / "xmls" / f"{name}.xml").write_text(
                    f"<annotation><filename>{name}.jpg</filename><size><width>{size[0]}"
                    f"</width><height>{size[1]}</height><depth>3</depth></size><object>"
                    f"<name>{'cat' if species == 1 else 'dog'}</name></object></annotation>\n"
                )
            line = f"{name} {class_id} {species} {breed_id}\n"
            lines.append(line)
            names.append(name)
            (test if number in TEST_NUMBERS else trainval).append(line)
    (notes / "list.txt").write_text(HEADER + "".join(lines))
    (notes / "trainval.txt").write_text("".join(trainval))
    (notes / "test.txt").write_text("".join(test))
    (notes / "README").write_text("OXFORD-IIIT PET Dataset (test fixture)\n")
    # stray files of the real archive that are not samples
    (images / "Abyssinian_101.mat").write_bytes(b"MATLAB 5.0 MAT-file\0")
    _photo(rng, 0, (30, 30)).save(images / "beagle_99.jpg", "JPEG")
    return PetFixture(
        root,
        names,
        [line.split()[0] for line in trainval],
        [line.split()[0] for line in test],
    )


def pack(root: Path, out: Path) -> dict[str, str]:
    """Pack ``root``'s two folders into ``out``/images.tar.gz and annotations.tar.gz.

    Returns
    -------
    dict
        Archive name -> MD5, the shape of ``pet_dataset.ARCHIVES``.
    """
    out.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for folder in ("images", "annotations"):
        archive = out / f"{folder}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(root / folder, arcname=folder)
        checksums[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    return checksums


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session", name="pet_tree")
def pet_tree_fixture(tmp_path_factory: pytest.TempPathFactory) -> PetFixture:
    """The unpacked fixture dataset (read-only: tests must not modify it)."""
    return build_tree(tmp_path_factory.mktemp("pet") / "root")


@pytest.fixture(scope="session", name="pet_archives")
def pet_archives_fixture(
    pet_tree: PetFixture, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """Folder holding the two fixture archives, and their MD5s."""
    out = tmp_path_factory.mktemp("pet-archives")
    return out, pack(pet_tree.root, out)


@pytest.fixture(name="pet_mirror")
def pet_mirror_fixture(pet_archives: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """Base URL of a real HTTP server on a free loopback port serving the archives."""
    folder, _ = pet_archives
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

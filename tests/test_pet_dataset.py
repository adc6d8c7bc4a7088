"""PetDataset on a fixture in the real archives' layout, and the download path over real HTTP."""

from __future__ import annotations

import http.server
import io
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pet_fixture import (  # noqa: F401
    PetFixture,
    pet_archives_fixture,
    pet_mirror_fixture,
    pet_tree_fixture,
)

from kenning.datasets import pet_dataset
from kenning.datasets.pet_dataset import PetDataset
from kenning.utils.download import download, extract_tar, file_digests
from kenning.utils.errors import DatasetError, DownloadError

MODEL = (
    "kenning.modelwrappers.classification.tensorflow_pet_dataset.TensorFlowPetDatasetMobileNetV2"
)
DATASET = "kenning.datasets.pet_dataset.PetDataset"


def _copy(tree: PetFixture, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(tree.root, root)
    return root


# -- parsing ---------------------------------------------------------------------
def test_breeds_are_the_listed_classes(pet_tree: PetFixture) -> None:
    ds = PetDataset(pet_tree.root, image_size=32)
    assert ds.get_class_names() == ["Abyssinian", "american_bulldog", "beagle", "Bengal"]
    assert ds.num_classes == 4
    assert len(ds) == 24  # the unlisted beagle_99.jpg and the .mat file are not samples
    labels = dict(zip([p.stem for p in ds.dataX], ds.dataY, strict=True))
    assert labels["Abyssinian_1"] == 0 and labels["Bengal_6"] == 3 and labels["beagle_2"] == 2


def test_species_are_cat_and_dog(pet_tree: PetFixture) -> None:
    ds = PetDataset(pet_tree.root, classify_by="species", image_size=32)
    assert ds.get_class_names() == ["cat", "dog"]
    labels = dict(zip([p.stem for p in ds.dataX], ds.dataY, strict=True))
    assert {labels[n] for n in labels if n[0].isupper()} == {0}
    assert {labels[n] for n in labels if n[0].islower()} == {1}


def test_split_is_the_official_lists(pet_tree: PetFixture) -> None:
    ds = PetDataset(pet_tree.root, image_size=32, validation_fraction=0.5, split_seed=1)
    train, val = ds.split_indices()
    assert sorted(ds.dataX[i].stem for i in train) == sorted(pet_tree.trainval)
    assert sorted(ds.dataX[i].stem for i in val) == sorted(pet_tree.test)
    assert np.array_equal(ds.subset_indices("validation"), val)
    assert not set(train) & set(val)


@pytest.mark.parametrize("size", [32, 48])
def test_inputs_are_rgb_nhwc_float_in_unit_range(pet_tree: PetFixture, size: int) -> None:
    ds = PetDataset(pet_tree.root, image_size=size, batch_size=5)
    assert ds.input_shape() == (size, size, 3)
    x, y = ds.load_subset("all")  # includes the greyscale and CMYK JPEGs
    assert x.shape == (24, size, size, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.05
    assert y.dtype == np.int64 and len(y) == 24
    batches = list(ds.iter_batches("validation"))
    assert [b[1].shape[0] for b in batches] == [5, 3]


# -- missing and broken files ------------------------------------------------------
def test_missing_root_says_how_to_download(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as info:
        PetDataset(root)
    assert str(info.value) == (
        f"Oxford-IIIT Pet dataset not found in {root}; pass --download-dataset to download it"
    )


def test_missing_list_and_images_say_how_to_download(pet_tree: PetFixture, tmp_path: Path) -> None:
    root = _copy(pet_tree, tmp_path)
    (root / "images" / "beagle_3.jpg").unlink()
    with pytest.raises(DatasetError, match=r"images/beagle_3\.jpg\) not found in .*; pass "):
        PetDataset(root)
    (root / "annotations" / "test.txt").unlink()
    with pytest.raises(DatasetError, match=r"annotations/test\.txt not found in"):
        PetDataset(root)


def test_corrupt_image_is_named(pet_tree: PetFixture, tmp_path: Path) -> None:
    root = _copy(pet_tree, tmp_path)
    bad = root / "images" / "Bengal_4.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated JPEG
    ds = PetDataset(root, image_size=32)
    with pytest.raises(DatasetError, match=r"cannot read image .*Bengal_4\.jpg"):
        ds.load_subset("all")
    bad.write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"Bengal_4\.jpg"):
        ds.load_subset("all")


def test_malformed_list_line_is_located(pet_tree: PetFixture, tmp_path: Path) -> None:
    root = _copy(pet_tree, tmp_path)
    with (root / "annotations" / "list.txt").open("a") as f:
        f.write("Sphynx_1 34 3\n")
    with pytest.raises(DatasetError, match=r"list\.txt:31: malformed line 'Sphynx_1 34 3'"):
        PetDataset(root)


# -- download over real HTTP -----------------------------------------------------------
def test_download_from_a_mirror(
    pet_archives: tuple[Path, dict[str, str]],
    pet_mirror: str,
    pet_tree: PetFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(pet_dataset, "ARCHIVES", pet_archives[1])
    root = tmp_path / "root"
    ds = PetDataset(root, download_dataset=True, dataset_mirror=pet_mirror, image_size=32)
    assert len(ds) == 24 and ds.num_classes == 4
    assert sorted(p.name for p in root.iterdir()) == ["annotations", "images"]
    same = root / "annotations" / "trimaps" / "beagle_1.png"
    assert same.read_bytes() == (pet_tree.root / same.relative_to(root)).read_bytes()
    # already unpacked: nothing is fetched, so a dead mirror does not matter
    PetDataset(root, download_dataset=True, dataset_mirror="http://127.0.0.1:9/", image_size=32)


def test_checksum_mismatch_deletes_the_download(
    pet_archives: tuple[Path, dict[str, str]],
    pet_mirror: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    wrong = dict.fromkeys(pet_archives[1], "0" * 32)
    monkeypatch.setattr(pet_dataset, "ARCHIVES", wrong)
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as info:
        PetDataset(root, download_dataset=True, dataset_mirror=pet_mirror)
    message = str(info.value)
    assert f"checksum mismatch for {pet_mirror}annotations.tar.gz" in message
    assert "retry" in message and "--dataset-mirror" in message
    assert info.value.url == f"{pet_mirror}annotations.tar.gz"
    assert list(root.iterdir()) == []  # neither the archive nor a .part file is left


def test_http_404_names_the_url(pet_mirror: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"missing/annotations\.tar\.gz failed: HTTP 404"):
        PetDataset(tmp_path / "root", download_dataset=True, dataset_mirror=pet_mirror + "missing")


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="failed: connection refused"):
        download(f"http://127.0.0.1:{port}/a.tar.gz", tmp_path / "a.tar.gz")
    assert list(tmp_path.iterdir()) == []


class _ShortBody(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def short_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _ShortBody)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/file"
    server.shutdown()
    server.server_close()
    thread.join()


def test_short_body_is_an_error(short_server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=f"downloading {short_server} failed"):
        download(short_server, tmp_path / "file")
    assert list(tmp_path.iterdir()) == []


def test_file_url_and_sha256(pet_archives: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    source = pet_archives[0] / "annotations.tar.gz"
    digests = file_digests(source)
    out = download(source.as_uri(), tmp_path / "a.tar.gz", **digests)
    assert out.read_bytes() == source.read_bytes()
    with pytest.raises(DownloadError, match="expected sha256 "):
        download(source.as_uri(), tmp_path / "b.tar.gz", sha256="ab" * 32)


# -- archive safety ------------------------------------------------------------------------
def _tar(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    return path


def test_extraction_refuses_escaping_members(tmp_path: Path) -> None:
    dotdot = tarfile.TarInfo("images/../../evil.txt")
    dotdot.size = 4
    link = tarfile.TarInfo("images/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    for n, member in enumerate((dotdot, link)):
        dest = tmp_path / f"dest{n}"
        with pytest.raises(DatasetError, match="refusing to extract"):
            extract_tar(_tar(tmp_path / f"bad{n}.tar.gz", member), dest)
    assert not (tmp_path / "evil.txt").exists()


def test_corrupt_archive(tmp_path: Path) -> None:
    bad = tmp_path / "images.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    with pytest.raises(DatasetError, match="is not a valid tar archive"):
        extract_tar(bad, tmp_path / "out")


# -- command line -------------------------------------------------------------------------
def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_training_help_lists_pet_and_model_flags() -> None:
    result = _run("-m", "kenning.scenarios.model_training", MODEL, DATASET, "-h")
    assert result.returncode == 0, result.stderr
    for flag in (
        "--dataset-root", "--download-dataset", "--model-path", "--num-epochs",
        "--classify-by", "--image-size", "--dataset-mirror", "--pretrained-weights",
    ):  # fmt: skip
        assert flag in result.stdout, flag


def test_missing_root_is_one_error_line(tmp_path: Path) -> None:
    result = _run(
        "-m", "kenning.scenarios.model_training", "tf-pet-mobilenetv2", "pet",
        "--dataset-root", str(tmp_path / "pets"), "--model-path", str(tmp_path / "m.h5"),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: Oxford-IIIT Pet dataset not found in {tmp_path / 'pets'}; "
        "pass --download-dataset to download it"
    )


def test_modules_import_no_framework() -> None:
    code = (
        "import sys, kenning.datasets.pet_dataset, kenning.utils.download, "
        "kenning.modelwrappers.classification.tensorflow_pet_dataset; "
        "print([m for m in ('tensorflow', 'keras', 'torch', 'PIL') if m in sys.modules])"
    )
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

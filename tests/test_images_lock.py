"""The image definitions: every lock line pinned, folders and catalogue in step (no Docker)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kenning.toolchain.images.catalogue import CATALOGUE, image_tag, images_dir, lock_hashes
from kenning.utils.provenance import sha256_file

IMAGES = images_dir()
PIP_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")
APT_PIN = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9.+-]+)(:[a-z0-9]+)?=(?P<version>[A-Za-z0-9.+~:-]+)$"
)
TRAINING = {"tensorflow", "tensorflow-cpu", "torch", "keras", "scikit-learn", "mxnet", "jax"}


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and ln[0] != "#"]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in _lines(IMAGES / name / "requirements.lock"):
        match = PIP_PIN.match(line)
        assert match, f"{name}/requirements.lock: '{line}' is not pinned as name==version"
        pins[canonicalize_name(match["name"])] = match["version"]
    return pins


def test_catalogue_matches_the_folders() -> None:
    folders = {p.name for p in IMAGES.iterdir() if (p / "Dockerfile").is_file()}
    assert folders == set(CATALOGUE)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_lock_line_is_pinned_to_an_exact_version(name: str) -> None:
    folder = IMAGES / name
    if CATALOGUE[name].parent:  # Debian packages on top of a catalogue image (its venv)
        assert (folder / "apt.lock").is_file(), f"{name} has no apt.lock"
    else:
        assert (folder / "requirements.lock").is_file(), f"{name} has no requirements.lock"
        pins = _pins(name)
        assert {"pip", "setuptools", "wheel"} <= set(pins), "the venv's own tools are pinned too"
        assert len(pins) == len(_lines(folder / "requirements.lock")), "a package is listed twice"
    for apt_lock in folder.glob("apt.lock"):
        for line in _lines(apt_lock):
            assert APT_PIN.match(line), f"{name}/apt.lock: '{line}' is not pinned as name=version"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_the_lock_satisfies_requirements_in(name: str) -> None:
    pins = {} if CATALOGUE[name].parent else _pins(name)
    requirements_in = IMAGES / name / "requirements.in"
    for line in _lines(requirements_in) if requirements_in.is_file() else []:
        requirement = Requirement(line)
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{name}: {requirement.name} is in requirements.in but not locked"
        assert requirement.specifier.contains(Version(pins[key]), prereleases=True), (
            f"{name}: locked {key}=={pins[key]} does not satisfy '{line}'"
        )
    apt_in = IMAGES / name / "apt.in"
    if apt_in.is_file():
        locked = {ln.split("=")[0].split(":")[0] for ln in _lines(IMAGES / name / "apt.lock")}
        assert set(_lines(apt_in)) <= locked


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_dockerfile_takes_the_base_as_an_argument(name: str) -> None:
    image = CATALOGUE[name]
    text = (IMAGES / name / "Dockerfile").read_text()
    instructions = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    default = image_tag(image.parent) if image.parent else "python:3.11-slim-bookworm"
    assert instructions[0] == f"ARG {image.base_arg}={default}"
    froms = [ln for ln in instructions if ln.startswith("FROM ")]
    assert froms and all(ln.split()[1] == f"${{{image.base_arg}}}" for ln in froms)
    if image.parent:
        assert f"images/{name}/apt.lock" in text
        assert f"apt-install {name} /tmp/apt.lock" in text, "Debian packages via apt-install"
        installer = (IMAGES / "apt-install").read_text()
        assert "--no-install-recommends" in installer, "only locked packages may be installed"
    else:
        assert f"images/{name}/requirements.lock" in text
        assert "--no-deps" in text, "only locked packages may be installed"


def test_target_images_are_runtime_only() -> None:
    for name in ("target-amd64", "target-arm64"):
        pins = _pins(name)
        assert not TRAINING & set(pins), f"{name} has {TRAINING & set(pins)}"
        assert {"ai-edge-litert", "onnxruntime", "apache-tvm", "apache-tvm-ffi"} <= set(pins)
        assert "libtvm_compiler.so" in (IMAGES / name / "Dockerfile").read_text()
    # onnxruntime >= 1.28 segfaults on import under qemu-user (ENVIRONMENT.md)
    assert Version(_pins("target-arm64")["onnxruntime"]) < Version("1.28")


def test_framework_pins_match_the_project() -> None:
    assert _pins("train-torch")["torch"] == "2.13.0+cpu"
    assert _pins("train-tensorflow")["tensorflow-cpu"] == "2.21.0"
    assert _pins("compile-tvm")["apache-tvm-ffi"] == "0.1.14.post1"
    mxnet = _pins("mxnet")
    assert mxnet["mxnet"] == "1.9.1"
    assert Version(mxnet["numpy"]) < Version("1.24")


def test_lock_hashes_are_the_sha256_of_the_files() -> None:
    hashes = lock_hashes("compile-tvm")
    assert set(hashes) == {"apt.lock", "requirements.lock"}
    assert hashes["requirements.lock"] == sha256_file(IMAGES / "compile-tvm" / "requirements.lock")
    # an image built FROM another depends on the other's lock files as well
    board = lock_hashes("board-arm64")
    assert board["requirements.lock"] == sha256_file(IMAGES / "target-arm64" / "requirements.lock")
    assert board["apt.lock"] == sha256_file(IMAGES / "board-arm64" / "apt.lock")

"""Images that build on any day (Debian pins that drifted) and a real registry to publish them.

The local registry is Debian's ``docker-registry`` started on a free loopback port; the
drift test builds board-amd64 from a copy of the work tree whose apt.lock pins a version the
archive never had; the reproduce test pushes the images a result ran in, deletes them here,
and lets ``invoke reproduce`` pull them back by digest.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capabilities import missing
from conftest import ROOT
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures
from conftest_tasks import build, invoke  # noqa: F401 - fixture

from kenning.core.results import load_results, write_atomically
from kenning.toolchain.images.localregistry import (
    REGISTRY_BINARY,
    LocalRegistry,
    local_registry,
    start_local_registry,
    stop_local_registry,
)
from kenning.toolchain.images.registry import published_reference


class AptDriftWarning(UserWarning):
    """A Debian pin in an apt.lock that the archive no longer serves."""


def _archive_versions(packages: list[str]) -> dict[str, set[str]]:
    done = subprocess.run(["apt-cache", "madison", *packages], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    versions: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2:
            versions.setdefault(parts[0], set()).add(parts[1])
    return versions


def test_apt_locks_against_the_archive() -> None:
    """Each apt.lock pin the archive dropped is reported (a warning: the build tolerates it)."""
    pins = {}
    for lock in sorted(ROOT.glob("images/*/apt.lock")):
        for line in lock.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                package, version = line.strip().split("=", 1)
                pins[f"{lock.parent.name}: {package}"] = (package, version)
    assert pins, "no apt.lock found"
    if shutil.which("apt-cache") is None:
        missing("apt", "apt-cache not found: this check runs on Debian machines (as CI does)")
    archive = _archive_versions(sorted({package for package, _ in pins.values()}))
    assert archive, "apt-cache madison knows no package: run `apt-get update` first"
    drifted = [f"{where} {version} (archive: {', '.join(sorted(archive.get(package, ())))})"
               for where, (package, version) in pins.items()
               if version not in archive.get(package, {version})]  # fmt: skip
    warnings.simplefilter("always", AptDriftWarning)  # reported, not raised
    for line in drifted:
        warnings.warn(f"Debian pin drifted: {line}", AptDriftWarning, stacklevel=1)


def test_published_reference_prefers_the_image_of_that_name() -> None:
    digests = ["r:5000/kenning/target-amd64@sha256:aa", "r:5000/kenning/board-amd64@sha256:bb"]
    assert published_reference(digests, "board-amd64") == digests[1]
    assert published_reference(digests, "other") == digests[0]
    assert published_reference([], "board-amd64") is None


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """A docker-registry on a free loopback port, storage in tmp_path, stopped afterwards."""
    if not Path(REGISTRY_BINARY).is_file():
        missing("registry", f"{REGISTRY_BINARY} not installed (apt-get install docker-registry)")
    started = start_local_registry(tmp_path / "registry")
    yield started
    stop_local_registry(tmp_path / "registry")


def test_local_registry_starts_once_and_keeps_its_port(registry: LocalRegistry) -> None:
    again = start_local_registry(registry.root)
    assert again.reused and again.address == registry.address and again.pid == registry.pid
    assert stop_local_registry(registry.root)
    assert local_registry(registry.root) is None
    restarted = start_local_registry(registry.root)
    assert restarted.address == registry.address and restarted.pid != registry.pid


@pytest.mark.docker
def test_a_pin_the_archive_dropped_builds_and_names_the_drift(
    docker_client: Any, require_image: Any, tmp_path: Path
) -> None:
    from kenning.toolchain.images.build import build_image
    from kenning.toolchain.images.info import describe

    require_image("target-amd64")
    tree = tmp_path / "tree"
    for part in ("kenning", "images"):
        shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, tree / part)
    lock = tree / "images" / "board-amd64" / "apt.lock"
    pinned = re.sub(r"^libbsd0=.*$", "libbsd0=0.0.1-0kenning", lock.read_text(), flags=re.M)
    lock.write_text(pinned)
    tag = f"kenning-test/drift-{tmp_path.name.lower()}:latest"
    try:
        info = build_image("board-amd64", root=tree, tag=tag)
        assert len(info.apt_drift) == 1, info.apt_drift
        assert re.fullmatch(r"libbsd0 0\.0\.1-0kenning -> \S+", info.apt_drift[0])
        assert info.apt_drift[0].split(" -> ")[1] != "0.0.1-0kenning"
        assert "Debian pins drifted: libbsd0 0.0.1-0kenning -> " in describe(info)
        installed = docker_client.containers.run(
            tag, ["cat", "/opt/kenning/apt/board-amd64.installed"], entrypoint=[], remove=True
        ).decode()
        assert re.search(r"^openssh-server=", installed, flags=re.M)
    finally:
        for reference in (tag,):
            try:
                docker_client.images.remove(reference, force=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass


def _forget_registry(docker_client: Any, address: str) -> None:
    """Untag every reference to this test's registry: later steps must not record it."""
    for image in docker_client.images.list():
        for reference in [*image.tags, *image.attrs.get("RepoDigests", [])]:
            if reference.startswith(f"{address}/"):
                docker_client.images.remove(reference, noprune=True)


@pytest.mark.docker
@pytest.mark.slow
def test_reproduce_pulls_the_published_images_by_digest(
    build: Path, docker_client: Any, registry: LocalRegistry
) -> None:
    used = ("train-torch", "compile-tvm")
    pushed = invoke("images", *[a for n in used for a in ("--name", n)],
                    "--push", registry.address, timeout=1800)  # fmt: skip
    assert pushed.returncode == 0, pushed.stdout[-2000:] + pushed.stderr[-3000:]
    digests = dict(line.split() for line in pushed.stdout.splitlines()
                   if line.startswith(used))  # fmt: skip
    assert set(digests) == set(used)
    assert all(d.startswith(f"{registry.address}/kenning/") and "@sha256:" in d
               for d in digests.values())  # fmt: skip

    done = invoke("bench", "--build", str(build), "--deployment", "torch-ort-int8",
                  "--executor", "docker")  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = build / "results" / "local" / "torch-ort-int8.json"
    steps = load_results(ROOT / results).provenance["steps"]
    assert steps["export"]["repo_digests"] == [digests["train-torch"]]
    assert steps["compile"]["repo_digests"] == [digests["compile-tvm"]]

    ids = {name: docker_client.images.get(f"kenning/{name}:latest").id for name in used}
    try:
        for image_id in ids.values():  # every tag goes: the image is not on this machine
            docker_client.images.remove(image_id, force=True)
        done = invoke("reproduce", str(results), "--workspace", str(build / "again"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "REPRODUCED" in done.stdout and "NOT REPRODUCED" not in done.stdout
        for name in used:
            assert f"pulling {digests[name]}" in done.stderr
        assert done.stdout.count("pulled") == 2
    finally:  # the rest of the suite needs the images under their names again
        for name, image_id in ids.items():
            docker_client.images.pull(digests[name])
            docker_client.images.get(digests[name]).tag(f"kenning/{name}", "latest")
            assert docker_client.images.get(f"kenning/{name}:latest").id == image_id
        _forget_registry(docker_client, registry.address)

    # a result whose images were never pushed says so
    record = load_results(ROOT / results)
    for step in ("export", "compile"):
        record.provenance["steps"][step]["repo_digests"] = []
    write_atomically(ROOT / results, record.dump())
    done = invoke("reproduce", str(results), "--workspace", str(build / "again"))
    assert "never pushed" in done.stdout

"""Build the Python base image offline: Debian bookworm from the apt mirror, no registry.

The Dockerfiles in ``images/`` start ``FROM ${BASE_IMAGE}``, by default the official
``python:3.11-slim-bookworm``. Where no registry can be reached, :func:`build_base_image`
makes an equivalent from Debian packages: ``mmdebstrap`` writes a minimal bookworm root
file system (``python3``, ``python3-venv``, ``ca-certificates``) as a tar, which is wrapped
as a one-layer image archive and loaded with ``docker load``. Writing the image config
ourselves labels it with the right architecture; ``docker import --platform`` is ignored by
Docker 20.10, which would label an arm64 root as amd64. arm64 roots are built through
qemu-user-static (binfmt_misc must have ``qemu-aarch64`` registered).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kenning.executors.base import docker_arch
from kenning.executors.dockerclient import docker_errors, session
from kenning.executors.errors import ImageBuildError, ImageNotFoundError
from kenning.utils.progress import progress

SUITE = "bookworm"
ARCHS = ("amd64", "arm64")
PACKAGES = ("usr-is-merged", "python3", "python3-venv", "ca-certificates")
DEFAULT_SOURCES = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# Documentation and translations are a third of a minimal root; copyright files stay.
_DPKG_OPTIONS = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)
_APT_OPTIONS = ('APT::Install-Recommends "false"', 'APT::Install-Suggests "false"')
#: seconds mmdebstrap gets to make a root file system (about 35 s on a good mirror)
MMDEBSTRAP_TIMEOUT_S = 1800.0
_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")


@dataclass(frozen=True)
class BaseImage:
    """A base image on this machine."""

    tag: str
    arch: str
    image_id: str
    size_bytes: int
    build_seconds: float
    reused: bool


def base_image_tag(arch: str) -> str:
    """The tag of the offline base image for ``arch`` (``amd64`` or ``arm64``)."""
    return f"kenning/python-base:{SUITE}-{arch}"


def debian_sources(path: Path = APT_SOURCES) -> list[str]:
    """The machine's Debian bookworm apt sources as one-line entries (defaults if none).

    Only Debian's own suites are kept (third-party repositories are skipped).
    """
    try:
        text = path.read_text()
    except OSError:
        return list(DEFAULT_SOURCES)
    lines: list[str] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip()] = value.strip()
        if "deb" not in fields.get("Types", "").split():
            continue
        for uri in fields.get("URIs", "").split():
            for suite in fields.get("Suites", "").split():
                if suite.split("-")[0] == SUITE:
                    lines.append(f"deb {uri} {suite} {fields.get('Components', 'main')}")
    return lines or list(DEFAULT_SOURCES)


def build_base_image(
    arch: str = "amd64",
    *,
    tag: str | None = None,
    sources: list[str] | None = None,
    force: bool = False,
    verbose: bool = False,
) -> BaseImage:
    """Build (or reuse) the offline Debian bookworm Python base image for ``arch``.

    Parameters
    ----------
    arch : str
        ``amd64`` or ``arm64`` (arm64 needs qemu-user-static on an amd64 host).
    tag : str, optional
        Image tag; default :func:`base_image_tag`.
    sources : list of str, optional
        One-line apt sources; default the machine's Debian sources.
    force : bool
        Rebuild even when the tag exists.
    verbose : bool
        Echo mmdebstrap's output.

    Returns
    -------
    BaseImage
        The image, with ``reused`` set when it was already there.

    Raises
    ------
    ImageBuildError
        If a tool is missing, emulation is not set up, or mmdebstrap or the load fails.
    DockerUnavailableError
        If no Docker daemon answers.
    """
    if arch not in ARCHS:
        raise ImageBuildError(f"base ({arch})", f"unknown architecture; choose from {ARCHS}")
    tag = tag or base_image_tag(arch)
    with session() as client:
        return _build(client, tag, arch, sources, force, verbose)


def _build(
    client: Any, tag: str, arch: str, sources: list[str] | None, force: bool, verbose: bool
) -> BaseImage:
    if not force:
        try:
            with docker_errors(tag):
                image = client.images.get(tag)
        except ImageNotFoundError:
            image = None
        if image is not None:
            return BaseImage(tag, arch, image.id, image.attrs["Size"], 0.0, reused=True)
    _check_tools(tag, arch)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kenning-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        command = _mmdebstrap_command(arch, rootfs, sources or debian_sources())
        _run_mmdebstrap(tag, command, verbose)
        archive = Path(tmp) / "image.tar"
        _write_image_archive(archive, rootfs, tag, arch, command)
        rootfs.unlink()
        with docker_errors(tag), archive.open("rb") as stream:
            client.api.load_image(stream)
            image = client.images.get(tag)
    return BaseImage(tag, arch, image.id, image.attrs["Size"], time.monotonic() - start, False)


def _check_tools(tag: str, arch: str) -> None:
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(tag, "mmdebstrap is not installed: apt-get install mmdebstrap")
    native = docker_arch(platform.machine())
    if arch == "arm64" and native != "arm64":
        if shutil.which("arch-test") is None:
            raise ImageBuildError(tag, "arch-test is not installed: apt-get install arch-test")
        if not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists():
            raise ImageBuildError(
                tag,
                "arm64 emulation is not set up: apt-get install qemu-user-static binfmt-support; "
                "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; "
                "update-binfmts --enable qemu-aarch64 (or run .ci/setup-docker target-arm64)",
            )


def _mmdebstrap_command(arch: str, rootfs: Path, sources: list[str]) -> list[str]:
    return [
        "mmdebstrap",
        "--variant=minbase",
        f"--architectures={arch}",
        f"--include={','.join(PACKAGES)}",
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        *(f"--dpkgopt={option}" for option in _DPKG_OPTIONS),
        *(f"--aptopt={option}" for option in _APT_OPTIONS),
        "--format=tar",
        SUITE,
        str(rootfs),
        *sources,
    ]


def _run_mmdebstrap(
    tag: str, command: list[str], verbose: bool, timeout: float = MMDEBSTRAP_TIMEOUT_S
) -> None:
    tail: collections.deque[str] = collections.deque(maxlen=30)
    with progress(f"debootstrapping {tag}", None):
        # its own session and process group: the deadline stops apt and dpkg under it too
        proc = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        expired = threading.Event()
        timer = threading.Timer(timeout, _stop_group, (proc, expired))
        timer.start()
        assert proc.stderr is not None
        try:
            with proc.stderr:
                for line in proc.stderr:  # ends when the deadline stops them all
                    tail.append(line.rstrip())
                    if verbose:
                        sys.stderr.write(line)
            code = proc.wait()
        except BaseException:
            _stop_group(proc, threading.Event())  # Ctrl-C: never leave it building
            raise
        finally:
            timer.cancel()
    if expired.is_set():
        detail = f"mmdebstrap gave no exit status within {timeout:g} s and was stopped"
        raise ImageBuildError(tag, detail, list(tail))
    if code != 0:
        raise ImageBuildError(tag, f"mmdebstrap exited with status {code}", list(tail))


def _stop_group(proc: subprocess.Popen[str], expired: threading.Event) -> None:
    if proc.poll() is None:
        expired.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _write_image_archive(
    archive: Path, rootfs: Path, tag: str, arch: str, command: list[str]
) -> None:
    """Wrap ``rootfs`` as a ``docker save``-format archive holding one layer."""
    digest = hashlib.sha256()
    with rootfs.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    layer_id = digest.hexdigest()
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config: dict[str, Any] = {
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {
            "Env": list(_ENV),
            "Cmd": ["python3"],
            "Labels": {"org.opencontainers.image.title": tag, "kenning.base.suite": SUITE},
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [{"created": created, "created_by": " ".join(command[:-1])}],
    }
    if arch == "arm64":
        config["variant"] = "v8"
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": [f"{layer_id}/layer.tar"]}]
    with tarfile.open(archive, "w") as out:
        _add_bytes(out, config_name, config_bytes)
        _add_bytes(out, "manifest.json", json.dumps(manifest).encode())
        out.add(rootfs, arcname=f"{layer_id}/layer.tar")


def _add_bytes(out: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    out.addfile(info, io.BytesIO(data))

"""Build kenning's images and read back where they came from.

:func:`build_image` sends Docker a build context holding exactly what the Dockerfiles
copy (kenning's sources, the image's folder, extra CA certificates, wheels that are not on
PyPI) laid out as in the repository, so ``docker build -f images/NAME/Dockerfile .`` from
the work tree builds the same thing. Images are labelled with the sha256 of their lock
files, the kenning version, the git commit and a hash of the sources, which
:func:`image_info` reads back for provenance and :func:`stale_locks` compares with the work
tree. Image errors are :mod:`kenning.executors.errors`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import kenning
from kenning.executors import labels as image_labels
from kenning.executors.dockerclient import docker_errors, session
from kenning.executors.errors import ImageBuildError
from kenning.toolchain.images.base import build_base_image
from kenning.toolchain.images.catalogue import ImageSpec, images_dir, lock_files, lock_hashes, spec
from kenning.toolchain.images.info import (
    ImageInfo,
    image_info,
)
from kenning.utils.progress import progress
from kenning.utils.provenance import git_commit, work_tree

#: where the machine's extra CA certificates are (copied in when ``extra_ca``)
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
#: the Dockerfiles' default base, for users who can reach Docker Hub
OFFICIAL_BASE = "python:3.11-slim-bookworm"
_SKIP_SUFFIXES = (".pyc", ".pyo")
#: the shared Debian installer (``images/apt-install``) and where it records what it installed
APT_INSTALL = "apt-install"
APT_RECORD_DIR = "/opt/kenning/apt"
_STEP = re.compile(r"^Step (\d+)/(\d+) :")


def build_image(
    name: str,
    *,
    base_image: str | None = None,
    extra_ca: bool = True,
    wheel_dirs: list[Path] | None = None,
    nocache: bool = False,
    verbose: bool = False,
    log_path: Path | None = None,
    root: Path | None = None,
    tag: str | None = None,
) -> ImageInfo:
    """Build image ``name`` from ``images/NAME/Dockerfile`` and tag it.

    Parameters
    ----------
    name : str
        Catalogue name.
    base_image : str, optional
        ``BASE_IMAGE`` build argument; default the offline Debian base for the image's
        architecture, built first if missing (see :mod:`kenning.toolchain.images.base`).
        For an image with a catalogue parent it is ``TARGET_IMAGE``, default the parent,
        which must be built already.
    extra_ca : bool
        Trust this machine's extra CA certificates while installing packages (needed behind
        a TLS-intercepting proxy). They never reach the final image; turn off for images
        shipped to real boards.
    wheel_dirs : list of Path, optional
        Folders searched for wheels that are not on PyPI (default :func:`default_wheel_dirs`).
    nocache : bool
        Ignore Docker's layer cache.
    verbose : bool
        Echo the whole build output (else only its steps).
    log_path : Path, optional
        Also write the build output there.
    root : Path, optional
        Work tree (default: where kenning is installed from).
    tag : str, optional
        Tag the result with this instead of ``kenning/NAME:latest`` (e.g. a trial build).

    Returns
    -------
    ImageInfo
        The image, with ``build_seconds`` and the Debian pins that drifted (also printed).

    Raises
    ------
    ImageBuildError
        If the build fails (the message ends with the build output's last lines).
    ImageNotFoundError
        If the image's parent is not built (Docker would try to pull it).
    DockerUnavailableError
        If no daemon answers.
    """
    image = spec(name)
    root = root or work_tree()
    tag = tag or image.tag
    if image.parent:  # adds Debian packages only (plain http mirror): no CA certificates
        buildargs = {image.base_arg: base_image or image_info(image.parent).tag}
    else:
        base = base_image or build_base_image(image.arch).tag
        buildargs = {image.base_arg: base, "EXTRA_CA_CERTS": "1" if extra_ca else "0"}
    wheels = find_local_wheels(image, wheel_dirs)
    if wheels and image.index_arg:
        buildargs[image.index_arg] = ""
    start = time.monotonic()
    with tempfile.TemporaryFile() as context:
        sources = _write_context(context, image, root, extra_ca, wheels)
        context.seek(0)
        labels = {
            image_labels.LABEL_IMAGE: image.name,
            image_labels.LABEL_VERSION: kenning.__version__,
            image_labels.LABEL_COMMIT: git_commit(root) or "unknown",
            image_labels.LABEL_SOURCES: sources,
            **{image_labels.LABEL_LOCK_PREFIX + k: v for k, v in lock_hashes(name, root).items()},
        }
        with session(timeout=3600) as client, docker_errors(tag, name):
            stream = client.api.build(
                fileobj=context,
                custom_context=True,
                dockerfile=f"images/{image.name}/Dockerfile",
                tag=tag,
                buildargs=buildargs,
                labels=labels,
                nocache=nocache,
                rm=True,
                forcerm=True,
                decode=True,
                platform=f"linux/{image.arch}",
            )
            steps = _count_steps(images_dir(root) / image.name / "Dockerfile")
            _follow(stream, image, steps and steps + len(labels), verbose, log_path)
            if any(path.name == "apt.lock" for path in lock_files(name, root)):
                _label_drift(client, image, tag, _read_drift(client, image, tag))
    info = image_info(name if tag == image.tag else tag)
    info.name = name
    info.build_seconds = time.monotonic() - start
    return info


def _read_drift(client: Any, image: ImageSpec, tag: str) -> list[str]:
    """The pins ``images/apt-install`` could not honour in the image just built."""
    with docker_errors(tag, image.name):
        output = client.containers.run(
            tag,
            ["sh", "-c", f"cat {APT_RECORD_DIR}/*.drift 2>/dev/null || true"],
            entrypoint=[],
            user="0:0",
            network_mode="none",
            remove=True,
            platform=f"linux/{image.arch}",
        )
    return sorted({line.strip() for line in output.decode().splitlines() if line.strip()})


def _label_drift(client: Any, image: ImageSpec, tag: str, drift: list[str]) -> None:
    """Record ``drift`` as the image's drift label (a metadata-only layer on top).

    Always written, empty when nothing drifted, so a rebuild that no longer drifts does not
    inherit an old label from a cached parent. Warns on stderr for each drifted pin.
    """
    for line in drift:
        print(
            f"warning: {tag}: Debian pin drifted: {line} (the archive no longer serves "
            f"the pinned version; refresh with `python -m kenning.toolchain lock {image.name}`)",
            file=sys.stderr,
        )
    dockerfile = f"FROM {tag}\n".encode()
    with docker_errors(tag, image.name):
        stream = client.api.build(
            fileobj=io.BytesIO(dockerfile),
            tag=tag,
            labels={image_labels.LABEL_APT_DRIFT: image_labels.drift_label(drift)},
            rm=True,
            decode=True,
            platform=f"linux/{image.arch}",
        )
        for chunk in stream:
            if "error" in chunk:
                raise ImageBuildError(tag, chunk["error"].strip(), [])


def default_wheel_dirs() -> list[Path]:
    """Local wheel folders: ``$KENNING_WHEEL_DIRS`` (``:``-separated), else pip's find-links."""
    value = os.environ.get("KENNING_WHEEL_DIRS")
    entries = value.split(os.pathsep) if value else os.environ.get("PIP_FIND_LINKS", "").split()
    return [Path(e) for e in entries if e and "://" not in e and Path(e).is_dir()]


def find_local_wheels(image: ImageSpec, wheel_dirs: list[Path] | None = None) -> list[Path]:
    """The local copies of the wheels ``image`` needs from outside PyPI (may be none)."""
    found: list[Path] = []
    for pattern in image.local_wheels:
        for folder in default_wheel_dirs() if wheel_dirs is None else wheel_dirs:
            matches = sorted(folder.glob(pattern))
            if matches:
                found.append(matches[-1])
                break
    return found


def _write_context(
    fileobj: Any, image: ImageSpec, root: Path, extra_ca: bool, wheels: list[Path]
) -> str:
    """Write the build context tar; return the sha256 of the kenning sources in it."""
    sources = hashlib.sha256()
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for rel in ("pyproject.toml", "README.md"):
            _add(tar, root / rel, rel, sources)
        for path in sorted((root / "kenning").rglob("*")):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix not in _SKIP_SUFFIXES
            ):
                _add(tar, path, path.relative_to(root).as_posix(), sources)
        for extra in image.sources:
            for path in sorted((root / extra).rglob("*")):
                if path.is_file() and "build" not in path.relative_to(root / extra).parts:
                    _add(tar, path, path.relative_to(root).as_posix(), sources)
        folder = images_dir(root) / image.name
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                _add(tar, path, path.relative_to(root).as_posix(), None)
        _add(tar, images_dir(root) / APT_INSTALL, f"images/{APT_INSTALL}", None)
        for path in sorted((images_dir(root) / "certs").glob("*")):
            _add(tar, path, f"images/certs/{path.name}", None)
        if extra_ca:
            for path in sorted(HOST_CA_DIR.glob("*.crt")):
                _add(tar, path, f"images/certs/{path.name}", None)
        for wheel in wheels:
            _add(tar, wheel, f"images/{image.name}/wheels/{wheel.name}", None)
    return sources.hexdigest()


def _add(tar: tarfile.TarFile, path: Path, arcname: str, digest: Any) -> None:
    info = tar.gettarinfo(str(path), arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0  # the layer cache then depends on content only
    with path.open("rb") as stream:
        tar.addfile(info, stream)
    if digest is not None:
        digest.update(arcname.encode() + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)


def _follow(
    stream: Any, image: ImageSpec, total: int | None, verbose: bool, log_path: Path | None
) -> None:
    tail: list[str] = []
    log = log_path.open("w") if log_path else None
    interactive = sys.stderr.isatty()
    try:
        with progress(f"building {image.tag}", total) as advance:
            for chunk in stream:
                if "error" in chunk:
                    raise ImageBuildError(image.tag, chunk["error"].strip(), tail[-30:])
                text = chunk.get("stream") or chunk.get("status") or ""
                if not text:
                    continue
                if log:
                    log.write(text)
                if verbose:
                    sys.stderr.write(text)
                for line in text.splitlines():
                    tail = [*tail[-29:], line]
                    if _STEP.match(line):
                        advance(1)
                        if not verbose and not interactive:
                            print(f"  {image.name}: {line[:110]}", file=sys.stderr)
    finally:
        if log:
            log.close()


def _count_steps(dockerfile: Path) -> int | None:
    """Instructions in a Dockerfile (continuation lines joined), as the builder numbers them."""
    try:
        text = dockerfile.read_text()
    except OSError:
        return None
    lines = [ln for ln in text.replace("\\\n", " ").splitlines() if ln.strip()]
    return sum(1 for ln in lines if not ln.lstrip().startswith("#"))

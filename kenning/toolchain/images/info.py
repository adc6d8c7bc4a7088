"""Kenning's images on this machine: what each is, where it came from, how it differs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kenning.executors.base import ExecutionRecord
from kenning.executors.dockerclient import docker_errors, session
from kenning.executors.labels import provenance_from_labels
from kenning.toolchain.images import catalogue
from kenning.toolchain.images.catalogue import lock_hashes
from kenning.toolchain.images.lockdiff import describe_change


@dataclass
class ImageInfo:
    """An image on this machine and where it came from."""

    name: str
    tag: str
    image_id: str
    arch: str
    size_bytes: int
    created: str
    lock_sha256: dict[str, str] = field(default_factory=dict)
    kenning_version: str | None = None
    git_commit: str | None = None
    sources_sha256: str | None = None
    build_seconds: float | None = None
    apt_drift: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)


def image_info(name: str, client: Any = None) -> ImageInfo:
    """Describe the built image ``name`` (catalogue name or reference).

    Raises
    ------
    ImageNotFoundError
        If it is not built; the message says how to build it.
    DockerUnavailableError
        If no daemon answers.
    """
    reference = catalogue.image_tag(name) if name in catalogue.CATALOGUE else name
    with session(client) as active, docker_errors(reference, name):
        image = active.images.get(reference)
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return ImageInfo(
        name=name,
        tag=reference,
        image_id=image.id,
        arch=image.attrs.get("Architecture", "?"),
        size_bytes=image.attrs.get("Size", 0),
        created=image.attrs.get("Created", ""),
        **provenance_from_labels(labels),  # type: ignore[arg-type]
        repo_digests=list(image.attrs.get("RepoDigests") or []),
    )


def stale_locks(name: str, client: Any = None, root: Path | None = None) -> list[str]:
    """Lock files of ``name`` whose work-tree hash differs from the one the image was built from.

    Raises
    ------
    ImageNotFoundError
        If the image is not built.
    """
    built = image_info(name, client).lock_sha256
    current = lock_hashes(name, root)
    return sorted(f for f in set(built) | set(current) if built.get(f) != current.get(f))


def image_differences(record: ExecutionRecord, client: Any = None) -> list[str]:
    """How the image a step ran in differs from the one now built under the same name.

    Parameters
    ----------
    record : ExecutionRecord
        A step recorded by the Docker executor.
    client : docker.DockerClient, optional
        A connected client.

    Returns
    -------
    list of str
        One line per difference (image ID, each lock file, kenning sources); empty when the
        step would run in the same image again.

    Raises
    ------
    ImageNotFoundError
        If no image of that name is built now.
    """
    if record.image is None:
        return []
    now = image_info(record.environment or record.image, client)
    changes = []
    if record.image_id and now.image_id != record.image_id:
        changes.append(f"{now.tag}: image ID {_short(record.image_id)} -> {_short(now.image_id)}")
    for lock in sorted(set(record.lock_sha256) | set(now.lock_sha256)):
        before, after = record.lock_sha256.get(lock), now.lock_sha256.get(lock)
        if before != after:
            what = ""
            if before and after:
                what = describe_change(f"images/{now.name}/{lock}", before, after)
            changes.append(
                f"{now.tag}: {lock} {_short(before)} -> {_short(after)}"
                + (f" ({what})" if what else "")
            )
    if record.sources_sha256 and now.sources_sha256 != record.sources_sha256:
        changes.append(f"{now.tag}: kenning sources changed (git {now.git_commit})")
    return changes


def _short(digest: str | None) -> str:
    return (digest or "none").removeprefix("sha256:")[:12]


def describe(info: ImageInfo) -> str:
    """One line: tag, short ID, architecture, size, build time."""
    built = f", built in {info.build_seconds:.0f} s" if info.build_seconds is not None else ""
    drift = f"; Debian pins drifted: {'; '.join(info.apt_drift)}" if info.apt_drift else ""
    return (
        f"{info.tag} {info.image_id.removeprefix('sha256:')[:12]} {info.arch} "
        f"{info.size_bytes / 1e6:.0f} MB{built}{drift}"
    )

"""What kenning's images say about themselves: their tags and the labels written at build.

The Docker executor reads these labels into every step's record; the toolchain writes them
when it builds (:mod:`kenning.toolchain.images.build`). A bare image name (no registry, no tag:
``compile-tvm``) means kenning's own image, ``kenning/NAME:latest``.
"""

from __future__ import annotations

#: repository part of every image tag
REPOSITORY = "kenning"
#: image labels written at build time (read back for provenance)
LABEL_IMAGE = "org.kenning.image"
LABEL_VERSION = "org.kenning.version"
LABEL_COMMIT = "org.kenning.git-commit"
LABEL_SOURCES = "org.kenning.sources-sha256"
LABEL_LOCK_PREFIX = "org.kenning.lock."
#: Debian pins the archive no longer served at build time ("pkg pinned -> installed; ...")
LABEL_APT_DRIFT = "org.kenning.apt-drift"


def image_tag(name: str) -> str:
    """The tag of the catalogue image ``name``."""
    return f"{REPOSITORY}/{name}:latest"


def resolve(image: str) -> str:
    """``compile-tvm`` -> ``kenning/compile-tvm:latest``; any other reference unchanged."""
    return image if any(c in image for c in "/:@") else image_tag(image)


def lock_labels(labels: dict[str, str]) -> dict[str, str]:
    """The lock file hashes recorded in an image's labels, by file name."""
    prefix = LABEL_LOCK_PREFIX
    return {k.removeprefix(prefix): v for k, v in labels.items() if k.startswith(prefix)}


def drift_label(drift: list[str]) -> str:
    """The value of :data:`LABEL_APT_DRIFT` for these drifted pins."""
    return "; ".join(drift)


def drift_from_label(labels: dict[str, str]) -> list[str]:
    """The drifted Debian pins recorded in an image's labels (``pkg pinned -> installed``)."""
    value = labels.get(LABEL_APT_DRIFT, "")
    return [part.strip() for part in value.split(";") if part.strip()]


def provenance_from_labels(labels: dict[str, str]) -> dict[str, object]:
    """What an image's labels say about where it came from, as ExecutionRecord fields."""
    return {
        "lock_sha256": lock_labels(labels),
        "kenning_version": labels.get(LABEL_VERSION),
        "git_commit": labels.get(LABEL_COMMIT),
        "sources_sha256": labels.get(LABEL_SOURCES),
        "apt_drift": drift_from_label(labels),
    }

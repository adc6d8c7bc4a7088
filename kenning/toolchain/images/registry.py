"""Publish kenning's images to a registry and get them back by digest.

A user pushes to a registry they name (Docker Hub, GHCR, their own: ``HOST[:PORT][/PATH]``);
on a machine without one, :func:`start_local_registry` runs Debian's ``docker-registry`` (the
CNCF distribution registry) on loopback with its storage under ``build/registry/``. After
:func:`push_images` each image is known as ``REGISTRY/kenning/NAME@sha256:DIGEST``; Docker
remembers that digest for the local image (``RepoDigests``), so every step run in it records
where it was published, and :func:`pull_image` brings exactly that image back anywhere.
"""

from __future__ import annotations

import sys
from typing import Any

from kenning.executors.dockerclient import docker_errors, session
from kenning.executors.errors import RegistryError
from kenning.executors.labels import REPOSITORY, image_tag


def repository(registry: str, name: str) -> str:
    """``REGISTRY/kenning/NAME``: where catalogue image ``name`` lives in ``registry``."""
    return f"{registry.rstrip('/')}/{REPOSITORY}/{name}"


def push_images(
    names: list[str], registry: str, *, client: Any = None, timeout: float = 1800.0
) -> dict[str, str]:
    """Push the built catalogue images ``names`` to ``registry``.

    Parameters
    ----------
    names : list of str
        Catalogue names; each must be built.
    registry : str
        ``HOST[:PORT][/PATH]``; credentials come from ``docker login``.
    client : docker.DockerClient, optional
        A connected client.
    timeout : float
        Seconds allowed for each API call of the push.

    Returns
    -------
    dict
        Catalogue name -> ``REGISTRY/kenning/NAME@sha256:DIGEST``.

    Raises
    ------
    ImageNotFoundError
        If an image is not built.
    RegistryError
        If the registry refuses or does not report a digest.
    """
    published: dict[str, str] = {}
    with session(client, timeout=timeout) as active:
        for name in names:
            repo = repository(registry, name)
            with docker_errors(image_tag(name), name):
                image = active.images.get(image_tag(name))
                image.tag(repo, "latest")
            published[name] = _push(active, repo, registry)
    return published


def _push(client: Any, repo: str, registry: str) -> str:
    digest = None
    with docker_errors(repo):
        for chunk in client.api.push(repo, tag="latest", stream=True, decode=True):
            if "error" in chunk:
                raise RegistryError(registry, f"push of {repo} refused: {chunk['error']}")
            digest = (chunk.get("aux") or {}).get("Digest") or digest
    if not digest:
        raise RegistryError(registry, f"push of {repo} reported no digest")
    return f"{repo}@{digest}"


def pull_image(reference: str, *, client: Any = None, timeout: float = 1800.0) -> tuple[str, bool]:
    """Make ``REGISTRY/kenning/NAME@sha256:DIGEST`` present here, pulling it if it is not.

    Returns
    -------
    tuple of (str, bool)
        The image ID, and whether it was pulled (False: it was here already).

    Raises
    ------
    RegistryError
        If the registry cannot be reached or does not have that digest.
    """
    import docker.errors

    with session(client, timeout=timeout) as active:
        try:
            return str(active.images.get(reference).id), False
        except docker.errors.ImageNotFound:
            pass
        print(f"pulling {reference}", file=sys.stderr)
        try:
            return str(active.images.pull(reference).id), True
        except docker.errors.APIError as exc:
            raise RegistryError(
                reference.split("/", 1)[0],
                f"cannot pull {reference}: {exc.explanation or exc} "
                "(is the registry running, and was the image pushed there?)",
            ) from exc


def published_reference(repo_digests: list[str], name: str) -> str | None:
    """Of an image's ``RepoDigests``, the one for catalogue image ``name`` (else the first)."""
    for reference in repo_digests:
        if reference.split("@", 1)[0].endswith(f"/{REPOSITORY}/{name}"):
            return reference
    return repo_digests[0] if repo_digests else None

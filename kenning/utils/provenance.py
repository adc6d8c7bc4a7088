"""Where code came from: the work tree, its git commit, file hashes."""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

import kenning

#: the folders whose changes make a work tree "dirty" for provenance
TRACKED = ("kenning", "images", "pyproject.toml")


def work_tree() -> Path:
    """The folder holding kenning's sources (a git work tree for an editable install)."""
    return Path(kenning.__file__).resolve().parent.parent


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes (what ``sha256sum`` prints).

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: Path) -> str:
    """The hex sha256 of a file, or of a folder's files (their relative names and bytes).

    A folder's hash changes when a file is added, removed, renamed or edited; the order the
    file system lists them in does not count.

    Raises
    ------
    OSError
        If a file cannot be read.
    """
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(sha256_file(item).encode() + b"\n")
    return digest.hexdigest()


@lru_cache(maxsize=8)
def git_commit(root: Path | None = None) -> str | None:
    """The work tree's commit, suffixed ``+dirty`` when kenning's files have local changes.

    Returns ``None`` outside a git work tree or without git.
    """
    root = root or work_tree()
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", *TRACKED],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if status else head

"""Name the packages that changed between two versions of a lock file, known by their hashes.

An image records the sha256 of the lock files it was built from; to say *what* changed
when an image was rebuilt, the versions with those hashes are looked up in the work tree
and in the file's git history, and their ``name==version`` lines compared.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from kenning.utils.provenance import work_tree

_PIN = re.compile(r"^\s*([A-Za-z0-9_.+-]+)\s*(?:==|=)\s*([^\s;#]+)")
#: how far back the lock file's history is searched
HISTORY = 50


def _git(root: Path, *args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def lock_text(relative: str, sha256: str, root: Path | None = None) -> str | None:
    """The content of lock file ``relative`` whose sha256 is ``sha256``, if it can be found.

    The work tree's file is tried first, then the file's last :data:`HISTORY` commits.
    """
    root = root or work_tree()
    current = root / relative
    if current.is_file() and hashlib.sha256(current.read_bytes()).hexdigest() == sha256:
        return current.read_text()
    commits = _git(root, "log", f"-n{HISTORY}", "--format=%H", "--", relative) or ""
    for commit in commits.split():
        text = _git(root, "show", f"{commit}:{relative}")
        if text is not None and hashlib.sha256(text.encode()).hexdigest() == sha256:
            return text
    return None


def pins(text: str) -> dict[str, str]:
    """``name -> version`` of every pinned line (pip ``==`` or apt ``=``)."""
    found = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def describe_change(relative: str, before: str, after: str, root: Path | None = None) -> str:
    """``"termcolor 3.3.0 -> 3.2.0, ..."`` between two versions; empty when one is unknown."""
    old, new = lock_text(relative, before, root), lock_text(relative, after, root)
    if old is None or new is None:
        return ""
    a, b = pins(old), pins(new)
    changes = [
        f"{name} {a.get(name, '(none)')} -> {b.get(name, '(removed)')}"
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    ]
    return ", ".join(changes[:8]) + (f" and {len(changes) - 8} more" if len(changes) > 8 else "")

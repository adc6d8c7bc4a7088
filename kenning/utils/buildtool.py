"""Running a build tool (make, a C compiler) with a deadline; its failure a ModelError."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from kenning.utils.errors import ModelError


def run_build(command: Sequence[str], what: str, path: Path, timeout: float) -> None:
    """Run ``command``; raise with ``what`` and its output's last lines if it fails.

    Raises
    ------
    ModelError
        If it exits non-zero or does not finish within ``timeout`` seconds (``path``: the
        model it was building).
    """
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelError(f"{what} did not finish within {timeout:g} s", path) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ModelError(f"{what} failed (exit status {done.returncode}):\n{tail}", path)

"""Shared by the tests of the invoke tasks: a build folder with trained models, `invoke`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.fixture
def build(torch_digits_model: Path, tf_digits_model: Path) -> Iterator[Path]:
    """A build folder with both trained digits models, relative to the work tree.

    It is inside the work tree: the Docker executor bind-mounts the working folder only.
    """
    folder = ROOT / "build" / f"test-tasks-{uuid.uuid4().hex[:8]}"
    (folder / "models").mkdir(parents=True)
    shutil.copy(torch_digits_model, folder / "models" / "torch.pth")
    shutil.copy(tf_digits_model, folder / "models" / "tensorflow.keras")
    yield folder.relative_to(ROOT)
    shutil.rmtree(folder)


def invoke(
    *args: str, timeout: float = 900, inventory: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``invoke ARGS`` in the work tree (with ``inventory`` as KENNING_INVENTORY)."""
    env = dict(os.environ, **({"KENNING_INVENTORY": str(inventory)} if inventory else {}))
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env=env,
    )  # fmt: skip


def invoke_background(*args: str, inventory: Path) -> subprocess.Popen[str]:
    """Start ``invoke ARGS`` in the work tree; the caller waits for it."""
    env = dict(os.environ, KENNING_INVENTORY=str(inventory))
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip

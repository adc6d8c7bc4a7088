"""``invoke boards`` says what is wrong with the inventory as ``kenning boards`` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from conftest_tasks import invoke


@pytest.mark.parametrize(
    "content",
    [None, "boards:\n  x: {host: h, user: u, arch: arm64, runtimes: [tvm], port: true}\n"],
    ids=["missing", "bad"],
)
def test_invoke_boards_prints_the_error_line_of_kenning_boards(
    tmp_path: Path, content: str | None
) -> None:
    inventory = tmp_path / "inventory.yaml"
    if content is not None:
        inventory.write_text(content)
    done = invoke("boards", inventory=inventory, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    line = done.stderr.strip().splitlines()[0]
    assert line.startswith("error: ") and str(inventory) in line, line
    kenning = subprocess.run(
        [sys.executable, "-m", "kenning.cli", "boards"], capture_output=True, text=True,
        timeout=120, cwd=ROOT, env=dict(os.environ, KENNING_INVENTORY=str(inventory)),
    )  # fmt: skip
    assert kenning.stderr.strip() == done.stderr.strip()

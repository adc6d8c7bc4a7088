"""Helpers for the ONNX conversion tests: file checks and a Sphinx build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort


def onnx_output(path: Path, inputs: np.ndarray) -> np.ndarray:
    """Check ``path`` with onnx.checker and run it in ONNX Runtime (independently of kenning)."""
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    weights = {init.name for init in model.graph.initializer}
    (name,) = [i.name for i in model.graph.input if i.name not in weights]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {name: inputs})[0])


def sphinx_build(rst: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """Build ``rst`` as the index of a minimal Sphinx project with warnings as errors."""
    source = folder / "source"
    source.mkdir(parents=True)
    (source / "conf.py").write_text('project = "onnx support"\n')
    (source / "index.rst").write_text(rst.read_text())
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(source),
            str(folder / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )

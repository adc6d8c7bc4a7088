"""Fixtures shared by the whole suite: trained digits models, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

# the skip rule (CI: a skip is a failure) lives beside the capabilities it names
from capabilities import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

TORCH_CNN = "kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN"
TF_CNN = "kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN"
DIGITS = "kenning.datasets.digits.DigitsDataset"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_kenning(
    args: Sequence[str | Path], timeout: float = 300, cwd: Path | None = None
) -> Completed:
    """Run ``python -m <args>`` in a subprocess and capture its output."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd or ROOT,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _train(wrapper_cls: type, path: Path, epochs: int) -> Path:
    from kenning.datasets.digits import DigitsDataset

    dataset = DigitsDataset(None)
    model = wrapper_cls(path, dataset, from_file=False)
    model.prepare_model()
    model.train_model(batch_size=32, learning_rate=0.002, epochs=epochs, logdir=None)
    model.save_model(path)
    return path


@pytest.fixture(scope="session")
def torch_digits_model(models_dir: Path) -> Path:
    """A PyTorchDigitsCNN trained briefly on digits (about 0.95 validation accuracy)."""
    from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN

    return _train(PyTorchDigitsCNN, models_dir / "digits.pth", epochs=6)


@pytest.fixture(scope="session")
def tf_digits_model(models_dir: Path) -> Path:
    """A TensorFlowDigitsCNN trained briefly on digits (about 0.95 validation accuracy)."""
    from kenning.modelwrappers.classification.tensorflow_digits import TensorFlowDigitsCNN

    return _train(TensorFlowDigitsCNN, models_dir / "digits.keras", epochs=6)

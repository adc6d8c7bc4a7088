"""Fixtures and helpers for the compiler and runtime tests.

Import the fixtures a test module uses from here (``# noqa: F401``). The
trained models come from ``conftest.py`` (``torch_digits_model``,
``tf_digits_model``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kenning.core.compiler import ModelCompiler
from kenning.core.model import ModelWrapper
from kenning.core.pipeline import compile_and_load, host_infer
from kenning.core.runtime import Runtime
from kenning.datasets.digits import DigitsDataset

#: the PyTorch exporter's own deprecation chatter, attributed to the stdlib
TORCH_EXPORT_WARNINGS = pytest.mark.filterwarnings(
    "ignore:.*LeafSpec.*:FutureWarning",
)


@pytest.fixture(scope="session")
def cc_digits() -> DigitsDataset:
    return DigitsDataset(None)


@pytest.fixture(scope="session")
def cc_torch_cnn(torch_digits_model: Path, cc_digits: DigitsDataset) -> ModelWrapper:
    from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN

    model = PyTorchDigitsCNN(torch_digits_model, cc_digits)
    model.prepare_model()
    return model


@pytest.fixture(scope="session")
def cc_tf_cnn(tf_digits_model: Path, cc_digits: DigitsDataset) -> ModelWrapper:
    from kenning.modelwrappers.classification.tensorflow_digits import TensorFlowDigitsCNN

    model = TensorFlowDigitsCNN(tf_digits_model, cc_digits)
    model.prepare_model()
    return model


@pytest.fixture(scope="session")
def cc_models(cc_torch_cnn: ModelWrapper, cc_tf_cnn: ModelWrapper) -> dict[str, ModelWrapper]:
    return {"torch": cc_torch_cnn, "keras": cc_tf_cnn}


def source_accuracy(model: ModelWrapper, dataset: DigitsDataset) -> float:
    """Validation accuracy of the model in its own framework."""
    x, y = dataset.load_subset("validation")
    return float(np.mean(model.infer(x).argmax(1) == y))


def runtime_accuracy(
    model: ModelWrapper, runtime: Runtime, dataset: DigitsDataset, batch: int = 1
) -> float:
    """Validation accuracy of a loaded artifact, fed ``batch`` samples at a time."""
    infer = host_infer(model, runtime)
    correct = total = 0
    for _, x, y in dataset.iter_batches("validation", batch):
        correct += int(np.sum(infer(x).argmax(1) == y))
        total += len(y)
    return correct / total


def compiled_accuracy(
    model: ModelWrapper, compiler: ModelCompiler, runtime: Runtime, dataset: DigitsDataset
) -> tuple[float, float]:
    """Compile, load and score: (source accuracy, artifact accuracy)."""
    compile_and_load(model, compiler, runtime)
    return source_accuracy(model, dataset), runtime_accuracy(model, runtime, dataset)

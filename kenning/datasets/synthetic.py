"""Seeded random inputs shaped as a model takes them: speed-only runs with no labels.

The shapes and dtypes come from the model file named by ``--model-file`` (its
``.iospec.json`` when there is one, else the file itself through the wrapper its format
names), so a scenario with ``dataset: {synthetic: {}}`` needs nothing but the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.dataset import Dataset
from kenning.core.iospec import IOSpec, TensorSpec
from kenning.utils.errors import ConfigurationError


def model_io_spec(path: Path) -> IOSpec:
    """The I/O specification of a model file: beside it, else read from it.

    Raises
    ------
    ConfigurationError, ModelError
        If the file has no readable format or is not a model.
    """
    if IOSpec.path_for(path).is_file():
        return IOSpec.load(path)
    from kenning.core.formats import format_of_file
    from kenning.core.registry import load_class

    wrapper = load_class(format_of_file(path).wrapper, "modelwrapper")(path, None)
    wrapper.prepare_model()
    return wrapper.get_io_specification()


class SyntheticDataset(Dataset):
    """``--samples`` random inputs for the model in ``--model-file``; no labels.

    Floats are uniform in [0, 1); integers span their dtype (or a quantised input's range).
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--dataset-root", Path, None, "unused: the inputs are generated"),
        Arg("--model-file", Path, help="model whose input shape and dtype the samples take"),
        Arg("--samples", int, 256, "how many distinct inputs"),
        Arg("--data-seed", int, 0, "seed of the generated inputs"),
    )

    task: ClassVar[str] = "none"

    def __init__(
        self,
        dataset_root: Path | None,
        model_file: Path,
        samples: int = 256,
        data_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        if samples < 1:
            raise ConfigurationError(f"--samples must be >= 1, got {samples}")
        self.model_file = Path(model_file)
        self.samples = samples
        self.data_seed = data_seed
        super().__init__(dataset_root, **kwargs)

    def prepare(self) -> None:
        rng = np.random.default_rng(self.data_seed)
        self._inputs = [
            self._generate(rng, spec) for spec in model_io_spec(self.model_file).inputs
        ]
        self.dataX = list(range(self.samples))
        self.dataY = [-1] * self.samples

    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Every sample is measured; calibration draws from them too (no labels to leak)."""
        everything = np.arange(len(self))
        return everything, everything

    def _generate(self, rng: np.random.Generator, spec: TensorSpec) -> np.ndarray:
        # one row per sample whatever the model's batch (a fixed batch of 1 takes them one by
        # one); another free dimension takes the sample count, as the batch would
        shape = (self.samples, *(self.samples if d == -1 else d for d in spec.shape[1:]))
        if np.issubdtype(np.dtype(spec.dtype), np.integer) and not spec.quantized:
            info = np.iinfo(spec.dtype)
            low, high = max(info.min, -128), min(info.max, 127)
            return rng.integers(low, high + 1, size=shape).astype(spec.dtype)
        return rng.random(size=shape, dtype=np.float32)

    def prepare_input_samples(self, samples: list[Any]) -> Any:
        """One array, or one per input for a model with several (in the model's order)."""
        picked = np.asarray(samples, dtype=np.int64)
        arrays = [inputs[picked] for inputs in self._inputs]
        return arrays[0] if len(arrays) == 1 else arrays

    def get_class_names(self) -> list[str]:
        return []

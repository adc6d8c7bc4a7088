"""Whether a dataset's samples fit a model's inputs: shape and dtype, checked before any work.

:meth:`kenning.core.model.ModelWrapper.check_inputs` runs these on one preprocessed sample,
so data a model cannot take is refused once, naming both sides and what to change, instead
of failing (or being cast silently) after compiling and measuring.
"""

from __future__ import annotations

import numpy as np

from kenning.core.iospec import TensorSpec
from kenning.utils.errors import ConfigurationError


def check_shape(spec: TensorSpec, sample: np.ndarray, dataset: str, wrapper: str) -> None:
    """Refuse a sample whose shape (past the batch) the input cannot take.

    Raises
    ------
    ConfigurationError
        Naming both shapes and what to change.
    """
    wanted, given = spec.shape[1:], list(sample.shape[1:])
    fits = len(wanted) == len(given) and all(
        w in (-1, g) for w, g in zip(wanted, given, strict=True)
    )
    if not fits:
        raise ConfigurationError(
            f"input shape mismatch: {dataset} gives samples of shape {tuple(given)} (after "
            f"{wrapper}'s preprocessing); the model's input '{spec.name}' takes "
            f"{tuple(wanted)}: change the data's preprocessing (e.g. resize, layout) or the model"
        )


def check_cast(spec: TensorSpec, sample: np.ndarray, dataset: str, wrapper: str) -> None:
    """Refuse float data for an integer input unless every value casts exactly.

    Raises
    ------
    ConfigurationError
        Naming the input, a value that would be lost and what to give instead.
    """
    dtype = np.dtype(spec.dtype)
    if spec.quantized or not np.issubdtype(dtype, np.integer):
        return  # a quantised input is quantised through its scale, not cast
    if not np.issubdtype(sample.dtype, np.floating):
        return
    info = np.iinfo(dtype)
    lost = sample[(np.mod(sample, 1) != 0) | (sample < info.min) | (sample > info.max)]
    if not lost.size:
        return
    raise ConfigurationError(
        f"the model's input '{spec.name}' takes {dtype.name} and {dataset} gives float values "
        f"such as {float(lost.flat[0]):g} (after {wrapper}'s preprocessing), which "
        f"{dtype.name} cannot hold: give values in {info.min}..{info.max} (for 8-bit images, "
        "drop `scale:`, `mean:` and `std:`)"
    )

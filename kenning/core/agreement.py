"""Output agreement: a deployment's outputs against the source model's on the same inputs.

Each run keeps the outputs of every distinct sample it measured (``<results>.outputs.npz``,
see :class:`kenning.core.recorder.ResultsRecorder`). Comparing a deployment's file with the
reference run's (the model in its own framework) says, with no labels needed, whether the
compiled model still computes the same function: top-1 agreement (how often the largest
output is the same one), and the largest absolute and relative difference. A deployment
below the top-1 tolerance is flagged: that is how a quantiser or kernel that breaks a model
(e.g. int8 XNNPACK kernels under emulation) shows up even where accuracy cannot be measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from kenning.utils.errors import ResultsError

#: default least top-1 agreement of a deployment with its reference
TOP1_TOLERANCE = 0.97


class Agreement(BaseModel):
    """How closely one run's outputs follow its reference's."""

    reference: str = Field(description="the reference results file")
    samples: int = Field(description="distinct samples both runs measured")
    top1: float = Field(description="fraction of samples whose largest output is the same")
    max_abs_error: float
    max_rel_error: float = Field(description="max |a - b| / max(|b|), per sample, over all")
    tolerance: float = TOP1_TOLERANCE
    agrees: bool


def load_outputs(path: Path) -> dict[int, np.ndarray]:
    """Outputs by dataset index from an ``.outputs.npz``.

    Raises
    ------
    ResultsError
        If the file is missing or not such a file.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            indices, outputs = data["indices"], data["outputs"]
    except (OSError, KeyError, ValueError) as exc:
        raise ResultsError(f"cannot read captured outputs {path}: {exc}", path) from exc
    if outputs.ndim != 2 or len(outputs) != len(indices):
        raise ResultsError(f"{path} holds no per-sample outputs of one size", path)
    return {int(i): row for i, row in zip(indices, outputs, strict=True)}


def compare_outputs(
    run: Path, reference: Path, tolerance: float = TOP1_TOLERANCE, label: str = ""
) -> Agreement:
    """Compare the outputs captured by two runs on the samples both measured.

    Parameters
    ----------
    run, reference : Path
        The two ``.outputs.npz`` files.
    tolerance : float
        Least top-1 agreement for :attr:`Agreement.agrees`.
    label : str
        How the reference is named in the result (default: its path).

    Raises
    ------
    ResultsError
        If a file cannot be read, the runs share no sample, or their outputs differ in size.
    """
    mine, theirs = load_outputs(run), load_outputs(reference)
    common = sorted(set(mine) & set(theirs))
    if not common:
        raise ResultsError(f"{run} and {reference} measured no sample in common", run)
    a = np.stack([mine[i] for i in common]).astype(np.float64)
    b = np.stack([theirs[i] for i in common]).astype(np.float64)
    if a.shape != b.shape:
        raise ResultsError(
            f"outputs of {run} ({a.shape[1]} values a sample) and {reference} "
            f"({b.shape[1]}) differ in size: not the same model",
            run,
        )
    diff = np.abs(a - b)
    scale = np.maximum(np.abs(b).max(axis=1), 1e-12)
    top1 = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    return Agreement(
        reference=label or str(reference),
        samples=len(common),
        top1=top1,
        max_abs_error=float(diff.max()),
        max_rel_error=float((diff.max(axis=1) / scale).max()),
        tolerance=tolerance,
        agrees=top1 >= tolerance,
    )

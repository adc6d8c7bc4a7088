"""One output of a deployment against the same output of its reference, with measures that fit it.

Every output is compared as a tensor: the largest and mean absolute error, the largest error
relative to the sample's largest reference value, the cosine similarity of each sample's
values (mean and worst), the signal-to-noise ratio in dB, and how much the output still varies
from sample to sample compared with the reference. The SNR's signal is the reference's
variation around its per-value mean over the samples (the reference's own power when it does
not vary), so an output stuck at a constant, however close to the reference's average, scores
0 dB or less. An output whose task is ``classification`` is also scored by top-1 agreement
and top-k overlap.

A check fails, with its reason, on: any non-finite value (NaN, Inf) where the reference is
finite, an output that has collapsed (it varies less than :data:`COLLAPSE_RATIO` of the
reference's variation), cosine or SNR below the tolerance, an absolute error above the one
asked for, top-1 agreement below the tolerance. The default tolerances depend on the
deployment's precision (:data:`DEFAULT_TOLERANCES`); a scenario may set each one per output.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

#: what an output is; all are compared as tensors, classification also by top-1/top-k
Task = Literal["tensor", "classification", "regression", "detection-boxes", "embedding"]
TASKS: tuple[str, ...] = Task.__args__  # type: ignore[attr-defined]

#: the numeric precision a deployment computes in, most precise first
Precision = Literal["float32", "float16", "int8"]
PRECISIONS: tuple[str, ...] = Precision.__args__  # type: ignore[attr-defined]

#: an output varying less than this fraction of the reference's variation has collapsed
COLLAPSE_RATIO = 0.1
#: the SNR reported when there is no error at all (JSON has no infinity)
SNR_CAP_DB = 300.0
#: how many classes top-k overlap looks at (fewer when the output has fewer)
TOP_K = 5


class Tolerance(BaseModel):
    """The least agreement an output must show; ``None`` leaves a measure unchecked."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cosine: float | None = Field(None, ge=-1, le=1, description="least mean cosine similarity")
    snr_db: float | None = Field(None, alias="snr-db", description="least SNR in dB")
    top1: float | None = Field(None, ge=0, le=1, description="least top-1 agreement")
    max_abs: float | None = Field(
        None, alias="max-abs", ge=0, description="largest absolute error allowed"
    )
    box_matched: float | None = Field(
        None, alias="box-matched", ge=0, le=1, description="detection: least matched fraction"
    )
    box_iou: float | None = Field(
        None, alias="box-iou", ge=0, le=1, description="detection: least mean IoU of matches"
    )

    def over(self, base: Tolerance) -> Tolerance:
        """These tolerances where set, ``base``'s elsewhere."""
        values = {
            name: mine if (mine := getattr(self, name)) is not None else theirs
            for name, theirs in base.__dict__.items()
        }
        return Tolerance(**values)


#: default tolerances by the deployment's precision (float16 and int8 builds lose digits)
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float32": Tolerance(cosine=0.9999, snr_db=60.0),
    "float16": Tolerance(cosine=0.999, snr_db=30.0),
    "int8": Tolerance(cosine=0.9, snr_db=10.0),
}


class OutputAgreement(BaseModel):
    """How one output of a run follows the same output of its reference."""

    name: str
    task: str = "tensor"
    values: int = Field(description="values per sample")
    max_abs_error: float
    mean_abs_error: float
    max_rel_error: float = Field(description="max |a - b| / max |b|, per sample, over all")
    cosine: float = Field(description="mean cosine similarity of a sample's values")
    cosine_min: float = Field(description="the worst sample's cosine similarity")
    snr_db: float = Field(description="reference variation over error, in dB (capped)")
    variation: float | None = Field(
        None, description="how much the output varies over samples, relative to the reference"
    )
    nonfinite: int = Field(0, description="NaN/Inf values where the reference is finite")
    top1: float | None = None
    topk: float | None = Field(None, description="mean overlap of the k largest outputs")
    k: int | None = None
    tolerance: Tolerance
    agrees: bool
    reasons: list[str] = []

    def line(self) -> str:
        """The measures a reader compares first, in one line."""
        parts = [f"SNR {self.snr_db:.1f} dB", f"cosine {self.cosine:.4f}"]
        if self.top1 is not None:
            parts.insert(0, f"top-1 {self.top1:.4f}")
        parts.append(f"max abs {self.max_abs_error:.3g}")
        return ", ".join(parts)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    dot = np.einsum("ij,ij->i", a, b)
    both = (na > 0) & (nb > 0)
    out = np.where(both, dot / np.where(both, na * nb, 1.0), 0.0)
    return np.where((na == 0) & (nb == 0), 1.0, out)


def _snr_db(a: np.ndarray, b: np.ndarray) -> float:
    noise = float(np.sum((a - b) ** 2))
    signal = float(np.sum((b - b.mean(axis=0)) ** 2)) if len(b) > 1 else 0.0
    if signal == 0.0:
        signal = float(np.sum(b**2))
    if noise == 0.0:
        return SNR_CAP_DB
    if signal == 0.0:
        return -SNR_CAP_DB
    return max(-SNR_CAP_DB, min(SNR_CAP_DB, 10.0 * math.log10(signal / noise)))


def _variation(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(b) < 2:
        return None
    ref = float(np.sqrt(np.mean(np.var(b, axis=0))))
    if ref == 0.0:
        return None
    return float(np.sqrt(np.mean(np.var(a, axis=0)))) / ref


def _top(a: np.ndarray, b: np.ndarray, k: int) -> tuple[float, float]:
    top1 = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    mine, theirs = np.argsort(-a, axis=1)[:, :k], np.argsort(-b, axis=1)[:, :k]
    overlap = [len(set(x) & set(y)) / k for x, y in zip(mine, theirs, strict=True)]
    return top1, float(np.mean(overlap))


def compare_output(
    name: str, run: np.ndarray, reference: np.ndarray, task: str, tolerance: Tolerance
) -> OutputAgreement:
    """Measure output ``name`` of a run (``samples x values``) against its reference's.

    Parameters
    ----------
    name : str
        The output's name (for the reasons).
    run, reference : np.ndarray
        One row per sample, the same samples in the same order, each output flattened.
    task : str
        One of :data:`TASKS`; ``classification`` adds top-1 and top-k.
    tolerance : Tolerance
        The least agreement (a measure left ``None`` is reported, not checked).
    """
    b = np.asarray(reference, dtype=np.float64)
    raw = np.asarray(run, dtype=np.float64)
    nonfinite = int(np.sum(~np.isfinite(raw) & np.isfinite(b)))
    a, b = np.nan_to_num(raw, posinf=0.0, neginf=0.0), np.nan_to_num(b, posinf=0.0, neginf=0.0)
    diff = np.abs(a - b)
    scale = np.maximum(np.abs(b).max(axis=1), 1e-12)
    cosines = _cosines(a, b)
    out = OutputAgreement(
        name=name,
        task=task,
        values=a.shape[1],
        max_abs_error=float(diff.max()),
        mean_abs_error=float(diff.mean()),
        max_rel_error=float((diff.max(axis=1) / scale).max()),
        cosine=float(cosines.mean()),
        cosine_min=float(cosines.min()),
        snr_db=_snr_db(a, b),
        variation=_variation(a, b),
        nonfinite=nonfinite,
        tolerance=tolerance,
        agrees=True,
    )
    if task == "classification" and a.shape[1] > 1:
        out.k = min(TOP_K, a.shape[1] - 1)
        out.top1, out.topk = _top(a, b, out.k)
    out.reasons = _reasons(out, tolerance)
    out.agrees = not out.reasons
    return out


def _reasons(out: OutputAgreement, tol: Tolerance) -> list[str]:
    reasons = []
    if out.nonfinite:
        reasons.append(f"{out.nonfinite} NaN/Inf values where the reference is finite")
    if out.variation is not None and out.variation < COLLAPSE_RATIO:
        reasons.append(
            f"collapsed: varies {out.variation:.3g}x as much as the reference over the samples "
            "(a constant output)"
        )
    if tol.cosine is not None and out.cosine < tol.cosine:
        reasons.append(f"cosine similarity {out.cosine:.4f} < {tol.cosine:g}")
    if tol.snr_db is not None and out.snr_db < tol.snr_db:
        reasons.append(f"SNR {out.snr_db:.1f} dB < {tol.snr_db:g} dB")
    if tol.max_abs is not None and out.max_abs_error > tol.max_abs:
        reasons.append(f"max abs error {out.max_abs_error:.3g} > {tol.max_abs:g}")
    if tol.top1 is not None and out.top1 is not None and out.top1 < tol.top1:
        reasons.append(f"top-1 agreement {out.top1:.4f} < {tol.top1:g}")
    return [f"output '{out.name}': {reason}" for reason in reasons]

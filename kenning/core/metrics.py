"""Classification and latency metrics computed from stored results.

Everything here works on what a results file keeps (top-k predictions and the
true class per sample, times per sample), so any report can recompute it.
Undefined ratios (a class never predicted, or never present) count as 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


class ClassificationMetrics(BaseModel):
    """Quality metrics of a classification run."""

    accuracy: float
    top5_accuracy: float
    mean_precision: float
    mean_sensitivity: float
    g_mean: float
    precision: list[float]
    sensitivity: list[float]
    confusion_matrix: list[list[int]]


class RegressionMetrics(BaseModel):
    """Quality of a regression run: the model's first output against the target value."""

    count: int
    mae: float
    rmse: float
    max_error: float


def regression_metrics(values: Sequence[float], targets: Sequence[float]) -> RegressionMetrics:
    """Mean absolute error, root mean square error and the largest error.

    Raises
    ------
    ValueError
        If there are no samples.
    """
    v, t = np.asarray(values, np.float64), np.asarray(targets, np.float64)
    if v.size == 0:
        raise ValueError("no samples to compute metrics from")
    err = np.abs(v - t)
    rmse = float(np.sqrt(np.mean(err**2)))
    return RegressionMetrics(
        count=int(v.size), mae=float(err.mean()), rmse=rmse, max_error=float(err.max())
    )


class LatencySummary(BaseModel):
    """Distribution of a series of durations, in seconds."""

    count: int
    mean: float
    std: float
    min: float
    median: float
    p90: float
    p99: float
    max: float


def confusion_matrix(
    predictions: Sequence[int] | np.ndarray,
    ground_truth: Sequence[int] | np.ndarray,
    num_classes: int,
) -> np.ndarray:
    """Counts with true classes in rows and predicted classes in columns."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(ground_truth, int), np.asarray(predictions, int)), 1)
    return matrix


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def classification_metrics(
    top_predictions: Sequence[Sequence[int]], ground_truth: Sequence[int], num_classes: int
) -> ClassificationMetrics:
    """Compute classification metrics.

    Parameters
    ----------
    top_predictions : sequence of sequences of int
        Per sample, class indices best first (the first is the prediction).
    ground_truth : sequence of int
        Per sample, the true class index.
    num_classes : int
        Number of classes.

    Returns
    -------
    ClassificationMetrics
        Accuracy, top-5 accuracy, per-class precision and sensitivity, their
        means, the G-mean (geometric mean of per-class sensitivities) and the
        confusion matrix.
    """
    truth = np.asarray(ground_truth, dtype=np.int64)
    if len(truth) == 0:
        raise ValueError("no samples to compute metrics from")
    first = np.asarray([p[0] for p in top_predictions], dtype=np.int64)
    top5 = [set(p[:5]) for p in top_predictions]
    matrix = confusion_matrix(first, truth, num_classes)
    tp = np.diag(matrix).astype(np.float64)
    precision = _ratio(tp, matrix.sum(axis=0).astype(np.float64))
    sensitivity = _ratio(tp, matrix.sum(axis=1).astype(np.float64))
    present = matrix.sum(axis=1) > 0
    sens_present = sensitivity[present]
    g_mean = (
        float(np.prod(sens_present) ** (1.0 / len(sens_present))) if len(sens_present) else 0.0
    )
    return ClassificationMetrics(
        accuracy=float(np.mean(first == truth)),
        top5_accuracy=float(np.mean([t in p for t, p in zip(truth, top5, strict=True)])),
        mean_precision=float(precision[present].mean()) if present.any() else 0.0,
        mean_sensitivity=float(sens_present.mean()) if present.any() else 0.0,
        g_mean=g_mean,
        precision=precision.tolist(),
        sensitivity=sensitivity.tolist(),
        confusion_matrix=matrix.tolist(),
    )


def latency_summary(times: Sequence[float]) -> LatencySummary:
    """Mean, standard deviation and percentiles of durations in seconds."""
    arr = np.asarray(times, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("no durations to summarise")
    return LatencySummary(
        count=int(arr.size),
        mean=float(arr.mean()),
        std=float(arr.std()),
        min=float(arr.min()),
        median=float(np.percentile(arr, 50)),
        p90=float(np.percentile(arr, 90)),
        p99=float(np.percentile(arr, 99)),
        max=float(arr.max()),
    )

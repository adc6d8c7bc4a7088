"""The one line a run prints at its end: the verdict, quality and the inference figure."""

from __future__ import annotations

from pathlib import Path

from kenning.core.figures import PRIMARY, format_percentile
from kenning.core.results import Results


def summary_line(results: Results, path: Path) -> str:
    """One line for the terminal: the verdict first, then quality and the inference figure.

    Percentiles are per runtime call; with a batch of N the per-sample median is derived
    (divided by N) and labelled so.
    """
    figure = results.primary
    verdict = results.verdict.line() if results.verdict is not None else "no verdict"
    if figure is None:
        return f"{verdict}: no samples completed -> {path}"
    distinct = len(results.distinct_samples())
    parts = [format_percentile(p) for p in figure.percentiles]
    warm = f", warm-up {results.warmup.count}" if results.warmup is not None else ""
    if results.metrics is not None:
        m = results.metrics
        quality = f"accuracy {m.accuracy:.4f}, top-5 {m.top5_accuracy:.4f}"
    elif results.detection is not None:
        d = results.detection
        quality = f"mAP@0.5 {d.map50:.4f}, mAP@0.5:0.95 {d.map50_95:.4f}"
    elif results.regression is not None:
        quality = f"MAE {results.regression.mae:.4g}, RMSE {results.regression.rmse:.4g}"
    else:
        quality = "no labels"
    batch = figure.batch_size
    calls = f"{figure.count} calls" if batch == 1 else f"{figure.count} calls of {batch}"
    derived = (
        f" (per sample, derived: p50 {figure.median / batch * 1e3:.3f} ms)" if batch > 1 else ""
    )
    return (
        f"{verdict}: {len(results.samples)} samples in {calls} ({distinct} distinct{warm}), "
        f"{quality}, {PRIMARY} {' '.join(parts)}{derived} -> {path}"
    )

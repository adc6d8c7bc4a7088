"""The plots of a report, drawn with matplotlib's Agg canvas.

matplotlib is imported when the first plot is drawn (``kenning[reports]``).
Figures are made with :class:`matplotlib.figure.Figure` and an explicit Agg
canvas, never through ``pyplot``, so drawing neither needs a display nor
changes the backend of a program that imports kenning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kenning.reports.stats import OnTarget, Series
from kenning.utils.imports import require

#: classes up to which the confusion matrix plot writes counts in its cells
ANNOTATE_CLASSES = 20

_DPI = 100


def new_figure(width: float = 7.5, height: float = 3.2) -> Any:
    """An empty figure on an Agg canvas.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    require("matplotlib", "reports")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, path: Path) -> None:
    """Write ``fig`` as a PNG (no timestamp, so equal plots give equal files)."""
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})


def series_plot(series: Series, title: str, cores: np.ndarray | None = None) -> Any:
    """A series over time with its median and p99 marked; optionally each core faintly."""
    fig = new_figure()
    ax = fig.add_subplot()
    if cores is not None and cores.shape[1] > 1:
        for i in range(cores.shape[1]):
            ax.plot(
                series.x,
                cores[:, i],
                color="grey",
                alpha=0.35,
                linewidth=0.8,
                label="per core" if i == 0 else None,
            )
    marker = "o" if len(series.values) <= 60 else None
    ax.plot(
        series.x,
        series.values,
        color="tab:blue",
        linewidth=1.2,
        marker=marker,
        markersize=3,
        label=series.name,
    )
    summary = series.summary
    ax.axhline(
        summary.median,
        color="tab:green",
        linestyle="--",
        linewidth=1,
        label=f"median {summary.median:.{series.digits}f} {series.unit}",
    )
    ax.axhline(
        summary.p99,
        color="tab:red",
        linestyle=":",
        linewidth=1,
        label=f"p99 {summary.p99:.{series.digits}f} {series.unit}",
    )
    values = series.values
    if values.size and values.min() > 0 and values.max() / values.min() > 100:
        ax.set_yscale("log")  # a few slow outliers would flatten everything else to zero
    elif series.unit == "%":
        ax.set_ylim(0, max(100.0, float(np.nanmax(values))) * 1.05)
    ax.set_title(title)
    ax.set_xlabel(series.x_label)
    ax.set_ylabel(series.unit)
    ax.grid(True, alpha=0.3)
    _legend_outside(ax)
    return fig


def _legend_outside(ax: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def on_target_plot(split: OnTarget) -> Any:
    """Host-observed and on-target time per sample, and their statistics with the overhead."""
    fig = new_figure(10.0, 3.4)
    lines, bars = fig.subplots(1, 2, width_ratios=[3, 2])
    x = split.host.x
    lines.plot(x, split.host.values, color="black", linewidth=0.8, label="end to end (host)")
    lines.plot(x, split.target.values, color="tab:blue", linewidth=0.8, label="inference (target)")
    both = np.concatenate([split.host.values, split.target.values])
    if both.min() > 0 and both.max() / both.min() > 100:
        lines.set_yscale("log")
    lines.set_title("Per sample")
    lines.set_xlabel(split.host.x_label)
    lines.set_ylabel("time (ms)")
    lines.grid(True, alpha=0.3)
    lines.legend(loc="upper right", fontsize="small")
    stats = ("mean", "median", "p90", "p99")
    width = 0.27
    for i, (series, colour) in enumerate(
        ((split.host, "black"), (split.target, "tab:blue"), (split.overhead, "tab:orange"))
    ):
        summary = series.summary
        bars.bar(
            np.arange(len(stats)) + (i - 1) * width,
            [getattr(summary, s) for s in stats],
            width,
            color=colour,
            label=series.name,
        )
    bars.axhline(0, color="grey", linewidth=0.6)
    bars.set_xticks(np.arange(len(stats)), labels=list(stats))
    bars.set_title("Statistics")
    bars.set_ylabel("time (ms)")
    bars.grid(True, axis="y", alpha=0.3)
    bars.legend(loc="upper left", fontsize="small")
    fig.suptitle("On-target time and protocol overhead")
    return fig


def confusion_plot(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> Any:
    """Confusion matrix coloured by row-normalised share, cells giving counts and shares."""
    counts = np.asarray(matrix, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(class_names)
    side = min(max(4.5, 0.55 * n + 2.0), 14.0)
    fig = new_figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ticks = np.arange(n)
    ax.set_xticks(ticks, labels=list(class_names), rotation=90 if n > 10 else 0)
    ax.set_yticks(ticks, labels=list(class_names))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (normalised per true class; counts in cells)")
    if n <= ANNOTATE_CLASSES:
        size = "small" if n <= 10 else "x-small"
        for i in range(n):
            for j in range(n):
                if counts[i, j] == 0:
                    continue
                colour = "white" if shares[i, j] > 0.5 else "black"
                ax.text(
                    j,
                    i,
                    f"{counts[i, j]}\n{shares[i, j]:.0%}",
                    ha="center",
                    va="center",
                    color=colour,
                    fontsize=size,
                )
    return fig


def pareto_plot(
    latencies: Sequence[float],
    accuracies: Sequence[float],
    keys: Sequence[str],
    labels: Sequence[str],
    front: Sequence[int],
    x_label: str = "latency p50 (ms)",
) -> Any:
    """A cost (latency, or flash or RAM) against accuracy, one point per run, the front marked."""
    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    on_front = set(front)
    positive = [lat for lat in latencies if lat > 0]
    log = (
        bool(positive) and len(positive) == len(latencies) and max(positive) / min(positive) > 100
    )
    xs = np.log10(latencies) if log else np.asarray(latencies, dtype=float)
    span_x = float(np.ptp(xs)) if len(xs) else 1.0
    span_y = float(np.ptp(accuracies)) if len(accuracies) else 1.0
    for i, (lat, acc) in enumerate(zip(latencies, accuracies, strict=True)):
        optimal = i in on_front
        ax.scatter(
            lat,
            acc,
            s=70 if optimal else 40,
            marker="*" if optimal else "o",
            color=f"C{i % 10}",
            zorder=3,
            label=f"{keys[i]}: {labels[i]}",
        )
        # runs close to earlier ones get their key raised, so that every key stays legible
        near = sum(
            abs(xs[j] - xs[i]) <= 0.06 * (span_x or 1.0)
            and abs(accuracies[j] - acc) <= 0.06 * (span_y or 1.0)
            for j in range(i)
        )
        ax.annotate(
            keys[i],
            (lat, acc),
            textcoords="offset points",
            xytext=(6, 6 + 11 * near),
            fontsize="small",
        )
    ordered = sorted(front, key=lambda i: latencies[i])
    ax.step(
        [latencies[i] for i in ordered],
        [accuracies[i] for i in ordered],
        where="post",
        color="black",
        linestyle="--",
        linewidth=1,
        label="Pareto front (stars)",
    )
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("accuracy")
    ax.set_title(f"{x_label.split(' (')[0].capitalize()} against accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize="small", ncols=1)
    return fig


def bar_plot(
    labels: Sequence[str], values: Sequence[float | None], title: str, unit: str, digits: int
) -> Any:
    """One horizontal bar per run, its value written beside it (``n/a`` when missing)."""
    fig = new_figure(7.5, 1.2 + 0.45 * len(labels))
    ax = fig.add_subplot()
    y = np.arange(len(labels))
    heights = [0.0 if v is None else v for v in values]
    bars = ax.barh(y, heights, color=[f"C{i % 10}" for i in range(len(labels))])
    texts = ["n/a" if v is None else f"{v:.{digits}f}" for v in values]
    ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_yticks(y, labels=list(labels), fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(f"{title} ({unit})" if unit else title)
    ax.set_title(title)
    ax.margins(x=0.2)
    ax.grid(True, axis="x", alpha=0.3)
    return fig

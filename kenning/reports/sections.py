"""The sections of a report on one run: run information, performance, classification.

Each function returns the template context of one section: tables of text,
figures to draw and the few flags the templates need to say what was not
recorded. ``caption`` prefixes keep captions unique when several runs share a
report; ``stem`` prefixes keep image file names unique.
"""

from __future__ import annotations

import shlex
from functools import partial
from typing import Any

import numpy as np

from kenning.core.figures import Percentile
from kenning.core.results import Results
from kenning.reports import metadata, plots
from kenning.reports.document import STATS_HEADER, Figure, Table, fixed, stats_cells
from kenning.reports.footprint import info_rows
from kenning.reports.stats import (
    FIGURE_TITLES,
    MS,
    Series,
    evaluated,
    figure_series,
    gpu_recorded,
    inference_time,
    on_target,
    per_core,
    quality,
    system_series,
)

GIB = 1024.0**3
#: classes up to which the raw confusion matrix is also given as a table
TABLE_CLASSES = 20
#: system series that get a plot of their own (the rest appear in the tables only)
PLOTTED = ("cpu", "ram", "gpu", "gpu_memory")


def status_note(results: Results) -> str | None:
    """A warning for a run that did not complete, or ``None``."""
    if results.status == "complete":
        return None
    settings = results.measure
    planned = max(settings.min_samples if settings else 0, results.dataset.num_samples)
    text = (
        f"This run did not complete (status: {results.status}): {len(results.samples)} of "
        f"{planned} samples were measured ({len(results.distinct_samples())} distinct of the "
        f"{results.dataset.num_samples} in the data), and every figure in this report comes "
        "from those samples only."
    )
    return f"{text} Error: {results.error}" if results.error else text


def run_section(results: Results, caption: str = "") -> dict[str, Any]:
    """Where, how and on what the run was made."""
    info = Table(f"{caption}Run information", ["Field", "Value"], numbers_right=False)
    host = results.host
    frameworks = "; ".join(f"{f.role}: {f.name} {f.version}" for f in results.frameworks)
    for field, value in (
        ("Scenario", results.scenario),
        ("Status", results.status),
        ("Created", results.created),
        ("Command", shlex.join(results.command)),
        ("Model", metadata.model_name(results)),
        ("Model wrapper", results.model.wrapper),
        ("Model file", results.model.path),
        ("Model size (bytes)", results.model.size_bytes),
        ("Compiler", metadata.compiler(results) or "none"),
        ("Runtime", metadata.runtime(results)),
        ("Frameworks", frameworks),
        ("Board", metadata.board(results)),
        ("Host", f"{host.hostname} ({host.platform}, Python {host.python})"),
        ("Host CPUs", host.cpu_count),
        ("Host RAM (GiB)", fixed(host.ram_bytes / GIB, 2)),
        ("Dataset", f"{results.dataset.cls} ({results.dataset.subset} subset)"),
        ("Samples recorded", len(results.samples)),
        ("Samples planned", results.dataset.num_samples),
        ("Batch size", results.dataset.batch_size),
        ("Kenning version", results.kenning_version),
        *info_rows(results),
        *((f"Provenance: {k}", v) for k, v in sorted(results.provenance.items())),
    ):
        info.add(field, value)
    return {"note": status_note(results), "info": info}


def _stats_table(caption: str, series: list[Series]) -> Table:
    table = Table(caption, ["Series", "Unit", *STATS_HEADER])
    for s in series:
        table.add(s.name, s.unit, *stats_cells(s.summary, s.digits))
    return table


def _system_figures(results: Results, which: str, stem: str) -> list[Figure]:
    series = results.system if which == "host" else results.target_system
    figures = []
    for s in system_series(series):
        if s.key not in PLOTTED:
            continue
        cores = per_core(series) if s.key == "cpu" and series is not None else None
        figures.append(
            Figure(
                f"{stem}_{which}_{s.key}",
                f"{s.name} on the {which} over time",
                partial(plots.series_plot, s, f"{s.name} ({which})", cores),
            )
        )
    return figures


def _figures_table(results: Results, caption: str) -> Table | None:
    """Each measured figure's percentiles with their confidence intervals."""
    if not results.figures:
        return None
    confidence = next(iter(results.figures.values())).confidence
    batch = results.dataset.batch_size
    per = "ms per call" if batch == 1 else f"ms per call of {batch} samples"
    table = Table(
        f"{caption}Figures ({per}; [{confidence:.0%} confidence interval])",
        ["Figure", "Calls", "p50", "p90", "p99", "Max", "What it times"],
        numbers_right=False,
    )
    for name, summary in results.figures.items():
        cells = []
        for q in (50.0, 90.0, 99.0):
            entry = summary.percentile(q)
            cells.append(_interval(entry) if entry is not None else "-")
        table.add(
            FIGURE_TITLES[name],
            summary.count,
            *cells,
            fixed(summary.max * MS, 3),
            summary.definition,
        )
    return table


def _interval(entry: Percentile) -> str:
    def show(value: float | None) -> str:
        return "?" if value is None else f"{value * MS:.3f}"

    return f"{entry.value * MS:.3f} [{show(entry.low)}, {show(entry.high)}]"


def performance_section(results: Results, caption: str = "", stem: str = "") -> dict[str, Any]:
    """The verdict, each figure with its percentiles, system load and the on-target split."""
    results = evaluated(results)  # figures and verdict recomputed from the samples
    timing = inference_time(results)
    host = system_series(results.system)
    measured = [figure_series(results, name) for name in FIGURE_TITLES]
    rows = [m for m in measured if m is not None] + host
    figures = []
    if timing is not None:
        figures.append(
            Figure(
                f"{stem}_inference_time",
                "Inference time of each runtime call, in run order",
                lambda: plots.series_plot(timing, "Inference time"),
            )
        )
    figures += _system_figures(results, "host", stem)
    verdict = results.verdict
    context: dict[str, Any] = {
        "verdict": verdict.word if verdict else None,
        "reasons": verdict.reasons if verdict else [],
        "unverified": verdict.unverified if verdict else [],
        "checks": verdict.checks if verdict else [],
        "notes": verdict.notes if verdict else [],
        "figures_table": _figures_table(results, caption),
        "stats": _stats_table(f"{caption}Performance statistics", rows) if rows else None,
        "figures": figures,
        "system_recorded": bool(host),
        "gpu_recorded": gpu_recorded(results.system),
        "target": None,
        "target_system": None,
    }
    split = on_target(results)
    if split is not None:
        context["target"] = {
            "stats": _stats_table(
                f"{caption}End to end against on-target inference",
                [split.host, split.target, split.overhead],
            ),
            "samples": len(split.host.values),
            "overhead_share": fixed(split.overhead_share, 2),
            "faster_than_target": int((split.overhead.values < 0).sum()),
            "figure": Figure(
                f"{stem}_on_target",
                "Host-observed and on-target time per sample; their statistics and the overhead",
                lambda: plots.on_target_plot(split),
            ),
        }
    target = system_series(results.target_system)
    if target:
        context["target_system"] = {
            "stats": _stats_table(f"{caption}Target system statistics", target),
            "figures": _system_figures(results, "target", stem),
            "gpu_recorded": gpu_recorded(results.target_system),
        }
    return context


def classification_section(results: Results, caption: str = "", stem: str = "") -> dict[str, Any]:
    """Accuracy, top-5 accuracy, per-class precision and sensitivity, the confusion matrix."""
    metrics = quality(results)
    if metrics is None:
        return {"metrics": None}
    names = results.dataset.class_names
    summary = Table(f"{caption}Classification metrics", ["Metric", "Value"])
    summary.add("Samples", len(results.distinct_samples()))
    for name, value in (
        ("Accuracy", metrics.accuracy),
        ("Top-5 accuracy", metrics.top5_accuracy),
        ("Mean precision", metrics.mean_precision),
        ("Mean sensitivity", metrics.mean_sensitivity),
        ("G-mean", metrics.g_mean),
    ):
        summary.add(name, fixed(value, 4))
    matrix = np.asarray(metrics.confusion_matrix, dtype=np.int64)
    per_class = Table(
        f"{caption}Per-class precision and sensitivity",
        ["Class", "Samples", "Predicted", "Precision", "Sensitivity"],
    )
    for i, name in enumerate(names):
        per_class.add(
            name,
            int(matrix[i].sum()),
            int(matrix[:, i].sum()),
            fixed(metrics.precision[i], 4),
            fixed(metrics.sensitivity[i], 4),
        )
    counts = None
    if len(names) <= TABLE_CLASSES:
        counts = Table(f"{caption}Confusion matrix (counts)", ["True \\ predicted", *names])
        for i, name in enumerate(names):
            counts.add(name, *(int(c) for c in matrix[i]))
    return {
        "metrics": metrics,
        "summary": summary,
        "per_class": per_class,
        "counts": counts,
        "figure": Figure(
            f"{stem}_confusion_matrix",
            "Confusion matrix: colour is the share of each true class, cells give counts",
            lambda: plots.confusion_plot(metrics.confusion_matrix, names),
        ),
    }

"""Several runs side by side: a table, latency against accuracy with its Pareto front, bars.

Runs are keyed ``R1``, ``R2``, ... in the order given and labelled from their
own metadata (:func:`kenning.reports.metadata.labels`); a run's repeats (the files its
``provenance["repeats"]`` names) come with it. The Pareto front is,
per model (fronts never mix models), the set of runs that no other run of that model
beats on both latency (p50, lower is better) and accuracy (higher is better). Each run's
output agreement with its model's reference run is a column (the scored output's
measures); a run any of whose outputs fails a check is flagged ``DISAGREES`` with the
reasons. "Against the fastest" compares the sets of repeated runs
(:func:`kenning.core.runset.compare_sets`) and makes no claim unless every run on both
sides is VALID and each side has enough runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kenning.core.figures import FIGURES, PRIMARY
from kenning.core.results import Results
from kenning.core.runset import compare_sets, run_set
from kenning.reports import metadata, plots
from kenning.reports.document import Figure, Table, fixed
from kenning.reports.footprint import footprint_section
from kenning.reports.stats import MS, evaluated
from kenning.utils.errors import ResultsError

KIB = 1024.0


@dataclass(frozen=True)
class Entry:
    """One run of a comparison, with the figures the comparison uses."""

    key: str
    label: str
    source: Path
    results: Results
    accuracy: float | None
    top5_accuracy: float | None
    g_mean: float | None
    p50_ms: float | None
    p99_ms: float | None
    size_kib: float | None
    verdict: str
    agreement: str = "-"
    model_key: str = ""
    mae: float | None = None
    map50: float | None = None
    map50_95: float | None = None
    runs: tuple[Results, ...] = ()

    @property
    def score(self) -> float | None:
        """What the Pareto front weighs against latency: accuracy, else mAP@0.5:0.95."""
        return self.accuracy if self.accuracy is not None else self.map50_95


def entries(runs: Sequence[tuple[Path, Results]]) -> list[Entry]:
    """Key, label and evaluate each run."""
    names = metadata.labels([r for _, r in runs])
    out = []
    for i, ((source, results), label) in enumerate(zip(runs, names, strict=True)):
        done = evaluated(results)
        repeats = _repeats(source, done)
        m, lat = done.metrics, done.primary  # every run compared by the same figure
        p99 = lat.percentile(99.0) if lat else None
        size = results.model.size_bytes
        out.append(
            Entry(
                key=f"R{i + 1}",
                label=label,
                source=source,
                results=results,
                accuracy=m.accuracy if m else None,
                top5_accuracy=m.top5_accuracy if m else None,
                g_mean=m.g_mean if m else None,
                p50_ms=lat.median * MS if lat else None,
                p99_ms=p99.value * MS if p99 else None,
                size_kib=size / KIB if size is not None else None,
                verdict=verdict_text(repeats),
                agreement=_agreement(results),
                mae=results.regression.mae if results.regression else None,
                map50=done.detection.map50 if done.detection else None,
                map50_95=done.detection.map50_95 if done.detection else None,
                model_key=metadata.model_name(results),
                runs=tuple(repeats),
            )
        )
    return out


def _repeats(source: Path, first: Results) -> list[Results]:
    """The run and its repeats, each evaluated (only the run, when a repeat cannot be read)."""
    try:
        return [first, *(evaluated(r) for _, r in run_set(source, first)[1:])]
    except ResultsError:
        return [first]


def verdict_text(runs: Sequence[Results]) -> str:
    """``VALID``, ``VALID (3 runs)``, or the first run that is not VALID with its reasons."""
    for number, run in enumerate(runs, 1):
        if run.verdict is None:
            return "-"
        if run.verdict.state != "VALID":
            which = f" (run {number} of {len(runs)})" if len(runs) > 1 else ""
            return f"{run.verdict.line()}{which}"
    return "VALID" + (f" ({len(runs)} runs)" if len(runs) > 1 else "")


def _agreement(results: Results) -> str:
    """Agreement with the reference: the scored output's measures, or why it disagrees."""
    a = results.agreement
    if a is None:
        return "reference" if results.provenance.get("deployment") == "reference" else "-"
    if not a.outputs:  # a file written before every output was compared
        text = f"top-1 {a.top1:.4f} (max abs {a.max_abs_error:.3g}, n={a.samples})"
        return text if a.agrees else f"DISAGREES: {text} < {a.tolerance}"
    return a.line()


def model_fronts(runs: Sequence[Entry], costs: Sequence[float] | None = None) -> list[int]:
    """Indices (into ``runs``) on the Pareto front of their own model: fronts never mix models.

    The cost is each run's latency p50 unless ``costs`` (one per run: flash, RAM) is given.
    """
    front: list[int] = []
    cost = list(costs) if costs is not None else [e.p50_ms or 0.0 for e in runs]
    for model in dict.fromkeys(e.model_key for e in runs):
        members = [i for i, e in enumerate(runs) if e.model_key == model]
        chosen = pareto_front([cost[i] for i in members], [runs[i].score or 0.0 for i in members])
        front += [members[i] for i in chosen]
    return sorted(front)


def against_fastest(runs: Sequence[Entry]) -> dict[str, str]:
    """For each entry, whether its latency differs from the fastest's beyond run-to-run noise."""
    timed = [e for e in runs if e.p50_ms is not None and e.runs]
    if len(timed) < 2:
        return {}
    fastest = min(timed, key=lambda e: e.p50_ms or 0.0)
    out = {fastest.key: "fastest"}
    for entry in timed:
        if entry is not fastest:
            ratio = compare_sets(fastest.runs, entry.runs, (fastest.key, entry.key))
            out[entry.key] = ratio.describe()
    return out


def pareto_front(latencies: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates (lower latency, higher accuracy)."""
    front = []
    points = list(zip(latencies, accuracies, strict=True))
    for i, (lat, acc) in enumerate(points):
        dominated = any(
            other_lat <= lat and other_acc >= acc and (other_lat < lat or other_acc > acc)
            for other_lat, other_acc in points
        )
        if not dominated:
            front.append(i)
    return front


#: (attribute, title, unit, decimals) of the per-metric bar plots
BARS = (
    ("accuracy", "Accuracy", "", 4),
    ("top5_accuracy", "Top-5 accuracy", "", 4),
    ("g_mean", "G-mean", "", 4),
    ("mae", "Mean absolute error", "", 4),
    ("map50", "mAP@0.5", "", 4),
    ("map50_95", "mAP@0.5:0.95", "", 4),
    ("p50_ms", "Latency p50", "ms", 3),
    ("p99_ms", "Latency p99", "ms", 3),
    ("size_kib", "Model size", "KiB", 1),
)


def comparison_section(runs: list[Entry], stem: str = "") -> dict[str, Any]:
    """The comparison table, the latency-accuracy plot and one bar plot per metric."""
    measured = [e for e in runs if e.score is not None and e.p50_ms is not None]
    front_idx = model_fronts(measured)
    front = {measured[i].key for i in front_idx}
    listing = Table("Runs compared", ["#", "Label", "Created", "Results file"])
    table = Table(
        "Comparison of runs",
        [
            "#",
            "Deployment",
            "Model",
            "Compiler",
            "Runtime",
            "Board",
            "Batch size",
            "Status",
            "Accuracy",
            "MAE",
            "mAP@0.5",
            "mAP@0.5:0.95",
            "Size (KiB)",
            "Latency p50 (ms)",
            "Latency p99 (ms)",
            "Pareto-optimal",
        ],
    )
    # what is said of each run, in a table of its own: long enough to need the page's width
    judged = Table("Judgements of runs", ["#", "Against the fastest", "Agreement", "Verdict"])
    against = against_fastest(runs)
    for e in runs:
        r = e.results
        listing.add(e.key, e.label, r.created, e.source.name)
        table.add(
            e.key,
            str(r.provenance.get("deployment", "-")),
            metadata.model_name(r),
            metadata.compiler(r) or "none",
            metadata.runtime(r),
            metadata.board(r),
            r.dataset.batch_size,
            r.status,
            fixed(e.accuracy, 4),
            fixed(e.mae, 4),
            fixed(e.map50, 4),
            fixed(e.map50_95, 4),
            fixed(e.size_kib, 1),
            fixed(e.p50_ms, 3),
            fixed(e.p99_ms, 3),
            "yes" if e.key in front else "no",
        )
        judged.add(e.key, against.get(e.key, "-"), e.agreement, e.verdict)
    figures = []
    if measured:
        figures.append(
            Figure(
                f"{stem}_pareto",
                "Latency (p50) against accuracy (detection: mAP@0.5:0.95); stars and the dashed "
                "line mark the Pareto front",
                lambda: plots.pareto_plot(
                    [e.p50_ms or 0.0 for e in measured],
                    [e.score or 0.0 for e in measured],
                    [e.key for e in measured],
                    [e.label for e in measured],
                    front_idx,
                ),
            )
        )
    names = [f"{e.key} {e.label}" for e in runs]
    for attr, title, unit, digits in BARS:
        values = [getattr(e, attr) for e in runs]
        if all(v is None for v in values):
            continue
        figures.append(
            Figure(
                f"{stem}_bars_{attr}",
                f"{title} of each run",
                partial(plots.bar_plot, names, values, title, unit, digits),
            )
        )
    return {
        "footprint": footprint_section(runs, stem, model_fronts),
        "figure": f"{PRIMARY}: {FIGURES[PRIMARY]}",
        "listing": listing,
        "table": table,
        "judged": judged,
        "front": [measured[i].key for i in front_idx],
        "figures": figures,
    }

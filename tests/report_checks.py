"""Independent recomputation of every number a report shows, from the raw results JSON.

Nothing here imports kenning: the figures are recomputed with numpy from the
JSON as written by the scenarios, and compared with the rendered text to the
precision the text shows (half a unit of its last decimal).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

import numpy as np
from conftest_report import Rendered

from kenning.reports.document import NOT_AVAILABLE

MIB = 2.0**20


def close(cell: str, value: float) -> None:
    """``cell`` shows ``value`` rounded to the decimals it has."""
    decimals = len(cell.split(".")[1]) if "." in cell else 0
    tolerance = 0.5 * 10.0**-decimals
    assert abs(float(cell) - value) <= tolerance * (1 + 1e-9) + 1e-12, (cell, value)


def check_stats_row(row: list[str], values: list[float] | np.ndarray) -> None:
    """Count, mean, std (population), median, p90 and p99 of ``values``."""
    arr = np.asarray(values, dtype=np.float64)
    assert row[2] == str(arr.size), (row, arr.size)
    expected = [
        arr.mean(),
        np.sqrt(((arr - arr.mean()) ** 2).mean()),
        np.percentile(arr, 50),
        np.percentile(arr, 90),
        np.percentile(arr, 99),
    ]
    for cell, value in zip(row[3:], expected, strict=True):
        close(cell, float(value))


def system_rows(series: dict[str, Any]) -> dict[tuple[str, str], np.ndarray]:
    """The rows a report must give for a system time series, by (name, unit)."""
    cores = len(series["cpu_percent"][0])
    rows = {
        (f"CPU usage, mean over {cores} cores", "%"): np.array(
            [sum(c) / len(c) for c in series["cpu_percent"]]
        ),
        ("RAM used", "MiB"): np.array(series["ram_used_bytes"]) / MIB,
        ("RAM used", "%"): np.array(series["ram_percent"]),
    }
    if series["gpu_available"]:
        rows[("GPU usage", "%")] = np.array(series["gpu_percent"])
        rows[("GPU memory", "MiB")] = np.array(series["gpu_memory_bytes"]) / MIB
    return rows


def check_stats_table(rows: list[list[str]], expected: dict[tuple[str, str], Any]) -> None:
    assert rows[0] == ["Series", "Unit", "Count", "Mean", "Std", "Median", "P90", "P99"]
    got = {(r[0], r[1]): r for r in rows[1:]}
    assert set(got) == set(expected), (set(got), set(expected))
    for key, values in expected.items():
        check_stats_row(got[key], values)


#: per-sample key and report title of each figure
FIGURES = {
    "inference_s": "Inference (runtime call)",
    "end_to_end_s": "End to end (host)",
    "preprocess_s": "Preprocessing (host)",
    "postprocess_s": "Postprocessing (host)",
    "ok_interval_s": "Between the two OKs (diagnostic)",
}


def times_ms(raw: dict[str, Any], key: str = "inference_s") -> np.ndarray:
    """One value per runtime call (the samples of a batch share their call's), in run order."""
    calls: dict[int, float] = {}
    for s in sorted(raw["samples"], key=lambda s: s["seq"]):
        if s.get(key) is not None:
            calls.setdefault(s["batch"], s[key] * 1e3)
    return np.array(list(calls.values()))


def compared_latency_ms(raw: dict[str, Any]) -> np.ndarray:
    """The comparison's latency: the inference figure, whatever way the run was made."""
    return times_ms(raw, "inference_s")


def distinct(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Each dataset sample once, its first measurement (what quality metrics count)."""
    first: dict[int, dict[str, Any]] = {}
    for s in sorted(raw["samples"], key=lambda s: s["seq"]):
        first.setdefault(s["index"], s)
    return list(first.values())


def quality(raw: dict[str, Any]) -> dict[str, Any]:
    """Accuracy, top-5, confusion matrix, per-class precision and sensitivity, by hand."""
    n = len(raw["dataset"]["class_names"])
    matrix = np.zeros((n, n), dtype=int)
    samples = distinct(raw)
    for s in samples:
        matrix[s["ground_truth"], s["predictions"][0]] += 1
    precision = [
        matrix[i, i] / matrix[:, i].sum() if matrix[:, i].sum() else 0.0 for i in range(n)
    ]
    sensitivity = [matrix[i, i] / matrix[i].sum() if matrix[i].sum() else 0.0 for i in range(n)]
    present = [i for i in range(n) if matrix[i].sum()]
    return {
        "matrix": matrix,
        "accuracy": sum(s["predictions"][0] == s["ground_truth"] for s in samples) / len(samples),
        "top5": sum(s["ground_truth"] in s["predictions"][:5] for s in samples) / len(samples),
        "precision": precision,
        "sensitivity": sensitivity,
        "mean_precision": float(np.mean([precision[i] for i in present])),
        "mean_sensitivity": float(np.mean([sensitivity[i] for i in present])),
        "g_mean": float(np.prod([sensitivity[i] for i in present]) ** (1 / len(present))),
    }


def check_run_info(rows: list[list[str]], raw: dict[str, Any]) -> None:
    info = dict((r[0], r[1]) for r in rows[1:])
    assert info["Status"] == raw["status"]
    assert info["Scenario"] == raw["scenario"]
    assert info["Command"] == shlex.join(raw["command"])
    assert info["Board"] == raw.get("provenance", {}).get("board", raw["host"]["hostname"])
    assert info["Model size (bytes)"] == str(raw["model"]["size_bytes"])
    assert info["Host CPUs"] == str(raw["host"]["cpu_count"])
    close(info["Host RAM (GiB)"], raw["host"]["ram_bytes"] / 2**30)
    assert info["Samples recorded"] == str(len(raw["samples"]))
    assert info["Samples planned"] == str(raw["dataset"]["num_samples"])
    assert info["Batch size"] == str(raw["dataset"]["batch_size"])


def check_performance(rows: list[list[str]], raw: dict[str, Any]) -> None:
    expected = {(title, "ms"): times_ms(raw, key) for key, title in FIGURES.items()
                if times_ms(raw, key).size}  # fmt: skip
    if raw["system"]:
        expected.update(system_rows(raw["system"]))
    check_stats_table(rows, expected)


def _rank_bounds(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """1-based order statistics bounding percentile q, from scipy's binomial distribution."""
    from scipy.stats import binom

    tail = (1 - confidence) / 2
    cdf = binom.cdf(np.arange(n + 1), n, q / 100)
    below = np.flatnonzero(cdf <= tail)
    above = np.flatnonzero(cdf >= 1 - tail)
    low = int(below[-1]) + 1 if below.size else None
    high = int(above[0]) + 1 if above.size and above[0] + 1 <= n else None
    return low, high


def check_figures(rows: list[list[str]], raw: dict[str, Any]) -> None:
    """Each figure's p50/p90/p99 with its order-statistic interval, and its maximum."""
    assert rows[0] == ["Figure", "Calls", "p50", "p90", "p99", "Max", "What it times"]
    confidence = (raw.get("measure") or {}).get("confidence", 0.99)
    got = {r[0]: r for r in rows[1:]}
    expected = {FIGURES[k]: times_ms(raw, k) for k in FIGURES if times_ms(raw, k).size}
    assert set(got) == set(expected)
    for title, values in expected.items():
        row, ordered = got[title], np.sort(values)
        assert row[1] == str(values.size)
        for cell, q in zip(row[2:5], (50, 90, 99), strict=True):
            value, low, high = re.fullmatch(r"(\S+) \[(\S+), (\S+)\]", cell).groups()
            close(value, float(np.percentile(values, q)))
            lo, hi = _rank_bounds(values.size, q, confidence)
            assert (low == "?") == (lo is None) and (high == "?") == (hi is None), (cell, lo, hi)
            if lo is not None:
                close(low, float(ordered[lo - 1]))
            if hi is not None:
                close(high, float(ordered[hi - 1]))
        close(row[5], float(values.max()))


def check_on_target(rows: list[list[str]], raw: dict[str, Any]) -> None:
    timed = [s for s in raw["samples"] if s.get("ok_interval_s") is not None]
    host = np.array([s["end_to_end_s"] * 1e3 for s in timed])
    target = np.array([s["inference_s"] * 1e3 for s in timed])
    check_stats_table(
        rows,
        {
            ("End to end (host)", "ms"): host,
            ("Inference (runtime call)", "ms"): target,
            ("Outside inference", "ms"): host - target,
        },
    )


def check_summary(rows: list[list[str]], raw: dict[str, Any]) -> None:
    q = quality(raw)
    got = dict((r[0], r[1]) for r in rows[1:])
    assert got["Samples"] == str(len(distinct(raw)))
    for name, key in (
        ("Accuracy", "accuracy"),
        ("Top-5 accuracy", "top5"),
        ("Mean precision", "mean_precision"),
        ("Mean sensitivity", "mean_sensitivity"),
        ("G-mean", "g_mean"),
    ):
        close(got[name], q[key])
    assert len(got) == 6


def check_per_class(rows: list[list[str]], raw: dict[str, Any]) -> None:
    q = quality(raw)
    names = raw["dataset"]["class_names"]
    assert rows[0] == ["Class", "Samples", "Predicted", "Precision", "Sensitivity"]
    assert [r[0] for r in rows[1:]] == names
    for i, row in enumerate(rows[1:]):
        assert row[1] == str(q["matrix"][i].sum())
        assert row[2] == str(q["matrix"][:, i].sum())
        close(row[3], q["precision"][i])
        close(row[4], q["sensitivity"][i])


def check_counts(rows: list[list[str]], raw: dict[str, Any]) -> None:
    names = raw["dataset"]["class_names"]
    assert rows[0] == ["True \\ predicted", *names]
    matrix = quality(raw)["matrix"]
    assert [[int(c) for c in r[1:]] for r in rows[1:]] == matrix.tolist()


CHECKS: dict[str, Callable[[list[list[str]], dict[str, Any]], None]] = {
    "Run information": check_run_info,
    "Performance statistics": check_performance,
    "End to end against on-target inference": check_on_target,
    "Figures (ms per call; [99% confidence interval])": check_figures,
    "Target system statistics": lambda rows, raw: check_stats_table(
        rows, system_rows(raw["target_system"])
    ),
    "Classification metrics": check_summary,
    "Per-class precision and sensitivity": check_per_class,
    "Confusion matrix (counts)": check_counts,
}


def pareto(points: list[tuple[float, float]]) -> list[bool]:
    """Whether each (latency, accuracy) point is not dominated by another."""
    return [
        not any(lo <= lat and ao >= acc and (lo < lat or ao > acc) for lo, ao in points)
        for lat, acc in points
    ]


def check_comparison(doc: Rendered, raws: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Check the comparison tables; return the run key of each results file name."""
    listing = doc.tables.pop("Runs compared")
    keys = {row[3]: row[0] for row in listing[1:]}
    assert set(keys) == set(raws)
    rows = doc.tables.pop("Comparison of runs")
    by_key = {r[0]: r for r in rows[1:]}
    # what is said of each run (against the fastest, agreement, verdict): a table of its own
    judged = {r[0]: r for r in doc.tables.pop("Judgements of runs")[1:]}
    points: dict[str, tuple[float, float]] = {}
    models: dict[str, str] = {}
    for name, raw in raws.items():
        row = by_key[keys[name]]
        roles = {f["role"]: f"{f['name']} {f['version']}" for f in raw["frameworks"]}
        assert row[1] == str(raw["provenance"].get("deployment", "-"))
        said = judged[keys[name]]
        provenance = raw["provenance"]
        assert row[2] == (provenance.get("model") or raw["model"]["wrapper"].rsplit(".", 1)[1])
        if isinstance(provenance.get("chain"), list):  # a scenario's deployment: its chain
            assert row[3] == (" -> ".join(provenance["chain"]) or "none"), row[3]
        else:
            assert row[3] == roles.get("compiler", "none")
        assert row[4] == roles.get("runtime", roles["model"])
        assert row[5] == raw["host"]["hostname"]
        assert row[6] == str(raw["dataset"]["batch_size"])
        assert row[7] == raw["status"]
        close(row[8], quality(raw)["accuracy"])
        assert row[9] == NOT_AVAILABLE  # no regression targets
        assert row[10] == row[11] == NOT_AVAILABLE  # no boxes: no mAP
        close(row[12], raw["model"]["size_bytes"] / 1024)
        latency = compared_latency_ms(raw)
        close(row[13], float(np.percentile(latency, 50)))
        close(row[14], float(np.percentile(latency, 99)))
        assert (
            said[1] == "fastest"
            or said[1].startswith(("within noise", "slower by"))
            or (
                ", not judged: " in said[1]  # too few runs, or a run that is not VALID
            )
        )
        agreement = raw.get("agreement")
        if agreement is None:
            reference = raw["provenance"].get("deployment") == "reference"
            assert said[2] == ("reference" if reference else "-")
        else:
            if not agreement["agrees"]:
                assert said[2] == "DISAGREES: " + "; ".join(agreement["reasons"]), said[2]
            else:
                first = agreement["outputs"][0]
                shown = f"SNR {first['snr_db']:.1f} dB, cosine {first['cosine']:.4f}"
                if first["top1"] is not None:
                    shown = f"top-1 {first['top1']:.4f}, {shown}"
                assert said[2].startswith(shown), (said[2], shown)
        state = raw["verdict"].get("state") or ("VALID" if raw["verdict"]["valid"] else "INVALID")
        assert said[3].split(" ")[0] == state, (said[3], state)
        points[name] = (float(np.percentile(latency, 50)), quality(raw)["accuracy"])
        models[name] = str(raw["provenance"].get("model") or row[2])
    front = []
    for model in dict.fromkeys(models.values()):  # a Pareto front per model, never mixed
        names = [n for n in points if models[n] == model]
        for name, optimal in zip(names, pareto([points[n] for n in names]), strict=True):
            assert by_key[keys[name]][15] == ("yes" if optimal else "no")
            front += [keys[name]] if optimal else []
    assert re.search(r"Pareto-optimal runs .*: " + ", ".join(sorted(front)) + r"\.", doc.text)
    return keys


def check_tables(doc: Rendered, raws: dict[str, dict[str, Any]]) -> int:
    """Check every table of a report; return how many were checked.

    With several runs, captions carry the run key (``R2: ...``) and the
    comparison tables say which file each key is; a caption nobody checks fails.
    """
    tables = dict(doc.tables)
    checked = 0
    if "Runs compared" in tables:
        keys = check_comparison(Rendered(tables=tables, text=doc.text), raws)
        raw_of = {key: raws[name] for name, key in keys.items()}
        checked += 2
    else:
        assert len(raws) == 1
        raw_of = {"": next(iter(raws.values()))}
    for caption, rows in tables.items():
        key, _, title = caption.partition(": ") if ": " in caption else ("", "", caption)
        title = re.sub(r"per call of \d+ samples", "per call", title)  # batched runs
        assert title in CHECKS, f"no check for table {caption!r}"
        CHECKS[title](rows, raw_of[key])
        checked += 1
    return checked

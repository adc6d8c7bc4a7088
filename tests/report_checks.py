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


def times_ms(raw: dict[str, Any], key: str = "time_s") -> np.ndarray:
    return np.array([s[key] * 1e3 for s in raw["samples"] if s.get(key) is not None])


def compared_latency_ms(raw: dict[str, Any]) -> np.ndarray:
    """The comparison's latency: on-target when every sample has it, else host-observed."""
    samples = raw["samples"]
    on_target = all(s.get("target_time_s") is not None for s in samples) and samples
    return times_ms(raw, "target_time_s" if on_target else "time_s")


def quality(raw: dict[str, Any]) -> dict[str, Any]:
    """Accuracy, top-5, confusion matrix, per-class precision and sensitivity, by hand."""
    n = len(raw["dataset"]["class_names"])
    matrix = np.zeros((n, n), dtype=int)
    for s in raw["samples"]:
        matrix[s["ground_truth"], s["predictions"][0]] += 1
    samples = raw["samples"]
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
    expected = {("Inference time", "ms"): times_ms(raw)}
    if raw["system"]:
        expected.update(system_rows(raw["system"]))
    check_stats_table(rows, expected)


def check_on_target(rows: list[list[str]], raw: dict[str, Any]) -> None:
    timed = [s for s in raw["samples"] if s["target_time_s"] is not None]
    host = np.array([s["time_s"] * 1e3 for s in timed])
    target = np.array([s["target_time_s"] * 1e3 for s in timed])
    check_stats_table(
        rows,
        {
            ("Host-observed time", "ms"): host,
            ("On-target time", "ms"): target,
            ("Protocol overhead", "ms"): host - target,
        },
    )


def check_summary(rows: list[list[str]], raw: dict[str, Any]) -> None:
    q = quality(raw)
    got = dict((r[0], r[1]) for r in rows[1:])
    assert got["Samples"] == str(len(raw["samples"]))
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
    "On-target time and protocol overhead": check_on_target,
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
    points = {}
    for name, raw in raws.items():
        row = by_key[keys[name]]
        roles = {f["role"]: f"{f['name']} {f['version']}" for f in raw["frameworks"]}
        assert row[1] == raw["model"]["wrapper"].rsplit(".", 1)[1]
        assert row[2] == roles.get("compiler", "none")
        assert row[3] == roles.get("runtime", roles["model"])
        assert row[4] == raw["host"]["hostname"]
        assert row[5] == str(raw["dataset"]["batch_size"])
        assert row[6] == raw["status"]
        close(row[7], quality(raw)["accuracy"])
        close(row[8], raw["model"]["size_bytes"] / 1024)
        latency = compared_latency_ms(raw)
        close(row[9], float(np.percentile(latency, 50)))
        close(row[10], float(np.percentile(latency, 99)))
        points[name] = (float(np.percentile(latency, 50)), quality(raw)["accuracy"])
    names = list(points)
    for name, optimal in zip(names, pareto([points[n] for n in names]), strict=True):
        assert by_key[keys[name]][11] == ("yes" if optimal else "no")
    front = [keys[n] for n, o in zip(names, pareto([points[n] for n in names]), strict=True) if o]
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
        assert title in CHECKS, f"no check for table {caption!r}"
        CHECKS[title](rows, raw_of[key])
        checked += 1
    return checked

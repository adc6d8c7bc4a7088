"""Series a report plots and summarises, taken from a results file.

Every number a report shows comes from here or from
:mod:`kenning.core.metrics` (``classification_metrics`` for quality,
``latency_summary`` for the distribution of any series), so a report agrees
with what the scenarios print. Units are converted once, here: durations to
milliseconds, memory to MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kenning.core.figures import PRIMARY
from kenning.core.metrics import ClassificationMetrics, LatencySummary, latency_summary
from kenning.core.results import Results, TimeSeries

MS = 1e3
MIB = 1024.0 * 1024.0

#: decimals shown for each unit
DIGITS = {"ms": 3, "%": 2, "MiB": 2}


@dataclass(frozen=True)
class Series:
    """One measured quantity over a run.

    Parameters
    ----------
    key : str
        Stable identifier, used in file names.
    name : str
        What it is, for tables and plot titles.
    unit : str
        Unit of ``values`` (``"ms"``, ``"%"`` or ``"MiB"``).
    x : numpy.ndarray
        Where each value was taken (seconds since the start, or sample number).
    x_label : str
        What ``x`` is.
    values : numpy.ndarray
        The measurements.
    """

    key: str
    name: str
    unit: str
    x: np.ndarray
    x_label: str
    values: np.ndarray

    @property
    def summary(self) -> LatencySummary:
        """Count, mean, standard deviation, median, p90 and p99 of ``values``."""
        return latency_summary(self.values.tolist())

    @property
    def digits(self) -> int:
        """Decimals to show for this unit."""
        return DIGITS.get(self.unit, 3)


#: how each figure is titled in tables and plots
FIGURE_TITLES = {
    "inference": "Inference (runtime call)",
    "end_to_end": "End to end (host)",
    "preprocess": "Preprocessing (host)",
    "postprocess": "Postprocessing (host)",
    "ok_interval": "Between the two OKs (diagnostic)",
}


@dataclass(frozen=True)
class OnTarget:
    """A protocol run's end-to-end time split into on-target inference and the rest.

    The rest is everything outside the runtime call: pre- and postprocessing, serialising,
    the protocol's messages and transfers.
    """

    host: Series
    target: Series
    overhead: Series

    @property
    def overhead_share(self) -> float:
        """Mean overhead as a percentage of the mean host-observed time."""
        host = float(self.host.values.mean())
        return 100.0 * float(self.overhead.values.mean()) / host if host > 0 else 0.0


def evaluated(results: Results) -> Results:
    """A copy of ``results`` with metrics recomputed from its samples.

    A ``running`` or ``failed`` file may have samples but no metrics yet; a
    recomputed copy makes every report tell the same story as its samples.
    """
    copy = results.model_copy(deep=True)
    copy.compute_metrics()
    return copy


def quality(results: Results) -> ClassificationMetrics | None:
    """Classification metrics of the run, or ``None`` when it has no samples."""
    return evaluated(results).metrics


def figure_series(results: Results, name: str = PRIMARY) -> Series | None:
    """Figure ``name`` of each runtime call, in run order, in milliseconds (None if not measured).

    The samples of a batch share their call's durations: each call is one point.
    """
    values = results.figure_values(name)
    if not values:
        return None
    return Series(
        name,
        FIGURE_TITLES[name],
        "ms",
        np.arange(1, len(values) + 1),
        "runtime call (run order)",
        np.asarray(values, dtype=np.float64) * MS,
    )


def inference_time(results: Results) -> Series | None:
    """The ``inference`` figure of each call (the runtime call alone), in run order."""
    return figure_series(results, PRIMARY)


def on_target(results: Results) -> OnTarget | None:
    """End-to-end time against on-target inference, when the results came through a protocol."""
    timed = [s for s in results.samples if s.ok_interval_s is not None and s.end_to_end_s]
    if not timed:
        return None
    x = np.array(
        [
            i + 1
            for i, s in enumerate(results.samples)
            if s.ok_interval_s is not None and s.end_to_end_s
        ]
    )
    host = np.array([s.end_to_end_s for s in timed], dtype=np.float64) * MS
    target = np.array([s.inference_s for s in timed], dtype=np.float64) * MS
    label = "sample (run order)"
    return OnTarget(
        host=Series("end_to_end", FIGURE_TITLES["end_to_end"], "ms", x, label, host),
        target=Series("inference", FIGURE_TITLES["inference"], "ms", x, label, target),
        overhead=Series("outside", "Outside inference", "ms", x, label, host - target),
    )


def system_series(series: TimeSeries | None) -> list[Series]:
    """CPU (mean over cores), RAM and, when recorded, GPU load over time.

    Returns an empty list when nothing was sampled.
    """
    if series is None or not series.timestamps:
        return []
    t = np.asarray(series.timestamps, dtype=np.float64)
    label = "time since start (s)"
    cpu = np.array([np.mean(cores) if cores else 0.0 for cores in series.cpu_percent])
    cores = len(series.cpu_percent[0]) if series.cpu_percent else 0
    out = [
        Series("cpu", f"CPU usage, mean over {cores} cores", "%", t, label, cpu),
        Series("ram", "RAM used", "MiB", t, label, np.asarray(series.ram_used_bytes) / MIB),
        Series("ram_percent", "RAM used", "%", t, label, np.asarray(series.ram_percent, float)),
    ]
    if gpu_recorded(series):
        assert series.gpu_percent is not None and series.gpu_memory_bytes is not None
        out.append(Series("gpu", "GPU usage", "%", t, label, np.asarray(series.gpu_percent)))
        out.append(
            Series(
                "gpu_memory",
                "GPU memory",
                "MiB",
                t,
                label,
                np.asarray(series.gpu_memory_bytes) / MIB,
            )
        )
    return out


def gpu_recorded(series: TimeSeries | None) -> bool:
    """Whether GPU load was sampled (``gpu_available`` false means it was not)."""
    return bool(
        series is not None
        and series.gpu_available
        and series.gpu_percent
        and series.gpu_memory_bytes
    )


def per_core(series: TimeSeries) -> np.ndarray:
    """CPU usage per core, one column per core (ragged rows padded with NaN)."""
    width = max((len(row) for row in series.cpu_percent), default=0)
    out = np.full((len(series.cpu_percent), width), np.nan)
    for i, row in enumerate(series.cpu_percent):
        out[i, : len(row)] = row
    return out

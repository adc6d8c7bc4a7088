"""Named figures of a run, one rule each, with percentiles and their confidence intervals.

Every latency kenning prints, stores, plots, compares or reproduces is one of these figures,
computed by :func:`summarise` from the per-sample values a results file keeps:

``inference``
    the runtime call alone, timed by the clock of the machine that runs it (in-process and on
    a target the same code path: ``Runtime.run()`` between ``prepare_input`` and
    ``upload_output``);
``end_to_end``
    the host's clock from starting a sample's preprocessing to holding its postprocessed
    output: what an application on the host sees (protocol exchanges included);
``preprocess`` / ``postprocess``
    the model wrapper's steps on the host;
``ok_interval``
    diagnostic only: the seed protocol's interval between the target's two OK replies to
    PROCESS. It under-reads whenever inference is shorter than the host's wake-up.

A percentile ``q`` is reported with a distribution-free confidence interval from order
statistics (the ranks between which the true percentile lies with the chosen confidence,
from the binomial distribution of the number of samples below it). It needs at least
:func:`samples_needed` samples: enough that the upper confidence bound is an order statistic
below the maximum, MLPerf LoadGen's early-stopping floor (64 samples for p90 and 662 for p99
at 99 % confidence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, Field

FIGURES: dict[str, str] = {
    "inference": "the runtime call alone, timed by the clock of the machine that runs it",
    "end_to_end": "host clock from starting a sample's preprocessing to holding its output",
    "preprocess": "the model wrapper's input preprocessing, on the host",
    "postprocess": "the model wrapper's output postprocessing, on the host",
    "ok_interval": "diagnostic: host clock between the target's two OK replies to PROCESS",
}
#: the figure reports and comparisons use for "latency"
PRIMARY = "inference"
DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)
DEFAULT_CONFIDENCE = 0.99


class Percentile(BaseModel):
    """One percentile of a figure, with its confidence interval (None: too few samples)."""

    q: float
    value: float
    low: float | None
    high: float | None
    needed: int


class FigureSummary(BaseModel):
    """The distribution of one figure over a run, in seconds."""

    name: str
    definition: str
    count: int
    mean: float
    std: float
    min: float
    max: float
    confidence: float
    percentiles: list[Percentile]
    batch_size: int = Field(1, description="samples per call: values are per runtime call")

    def percentile(self, q: float) -> Percentile | None:
        """The entry for percentile ``q`` (e.g. 50), if it was computed."""
        return next((p for p in self.percentiles if p.q == q), None)

    @property
    def median(self) -> float:
        """p50 (computed whatever percentiles were asked for)."""
        entry = self.percentile(50.0)
        return entry.value if entry is not None else float("nan")


def _binomial_cdf(n: int, q: float) -> np.ndarray:
    """P(B <= k) for k = 0..n, B ~ Binomial(n, q), computed in log space."""
    k = np.arange(n + 1, dtype=np.float64)
    steps = np.log(n - k[:-1]) - np.log(k[:-1] + 1) + math.log(q) - math.log1p(-q)
    log_pmf = np.concatenate([[n * math.log1p(-q)], n * math.log1p(-q) + np.cumsum(steps)])
    pmf = np.exp(log_pmf - log_pmf.max())
    return np.asarray(np.cumsum(pmf) / pmf.sum())


def interval_ranks(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """1-based ranks ``(l, u)`` with ``x_(l) <= percentile <= x_(u)`` at ``confidence``.

    Each tail gets ``(1 - confidence) / 2``; a bound that would need a rank outside 1..n is
    None (more samples are needed for it).
    """
    if n <= 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    cdf = _binomial_cdf(n, q / 100.0)
    # lower: the largest l with P(B <= l - 1) <= tail; upper: the smallest u with P(B <= u-1)
    # >= 1 - tail (B counts the samples below the true percentile)
    below = np.flatnonzero(cdf <= tail)
    low = int(below[-1]) + 1 if below.size else None
    above = np.flatnonzero(cdf >= 1.0 - tail)
    high = int(above[0]) + 1 if above.size else None
    return low, (high if high is not None and high <= n else None)


@lru_cache(maxsize=64)
def samples_needed(q: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """Fewest samples for percentile ``q`` to have an upper bound below the maximum.

    The smallest ``n`` for which, with probability ``confidence``, at least two samples lie
    above the true percentile: the ``(n-1)``-th order statistic then bounds it.
    """
    if not 0.0 < q < 100.0:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    p = q / 100.0
    n = 2
    while True:
        # P(at most one sample above the percentile)
        risk = p**n + n * p ** (n - 1) * (1.0 - p)
        if 1.0 - risk >= confidence:
            return n
        n += 1


def summarise(
    name: str,
    values: Sequence[float],
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    confidence: float = DEFAULT_CONFIDENCE,
    batch_size: int = 1,
) -> FigureSummary:
    """Summarise one figure: moments, extremes, and each percentile with its interval.

    ``values`` holds one value per runtime call (of ``batch_size`` samples each).

    Raises
    ------
    ValueError
        If there are no values, or ``name`` is not a known figure.
    """
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; figures: {', '.join(FIGURES)}")
    arr = np.sort(np.asarray(values, dtype=np.float64))
    if arr.size == 0:
        raise ValueError(f"no values of {name} to summarise")
    wanted = sorted({50.0, *map(float, percentiles)})
    entries = []
    for q in wanted:
        low, high = interval_ranks(arr.size, q, confidence)
        entries.append(
            Percentile(
                q=q,
                value=float(np.percentile(arr, q)),
                low=float(arr[low - 1]) if low is not None else None,
                high=float(arr[high - 1]) if high is not None else None,
                needed=samples_needed(q, confidence),
            )
        )
    return FigureSummary(
        name=name,
        definition=FIGURES[name],
        count=int(arr.size),
        mean=float(arr.mean()),
        std=float(arr.std()),
        min=float(arr[0]),
        max=float(arr[-1]),
        confidence=confidence,
        percentiles=entries,
        batch_size=batch_size,
    )


def format_percentile(entry: Percentile, scale: float = 1e3, unit: str = "ms") -> str:
    """``p99 1.234 ms [1.200, 1.300]`` (``[?, ?]`` for a bound that needs more samples)."""

    def show(value: float | None) -> str:
        return "?" if value is None else f"{value * scale:.3f}"

    return f"p{entry.q:g} {entry.value * scale:.3f} {unit} [{show(entry.low)}, {show(entry.high)}]"

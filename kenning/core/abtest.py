"""Is one deployment faster than another, or is the difference noise? Judged between runs.

:func:`compare_runs` is what every verdict uses (``invoke reproduce``, the comparison
report's "against the fastest"): it compares *sets of runs*, at least :data:`MIN_RUNS` per
side, with an interval from the variation between runs (docs/measurement.md: the method and
its false-positive rate measured on known data).

:func:`compare_medians` is the bootstrap of two single runs' per-call values. It sees only
the noise within a run, so two runs of one build that differ by 2 % (memory placement, the
machine's state) come out "significantly" different most of the time; no verdict uses it,
``bench/verdicts.py`` shows it beside :func:`compare_runs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: resamples drawn (in chunks, so memory stays small for long runs)
RESAMPLES = 2000
_CHUNK = 100


@dataclass(frozen=True)
class MedianRatio:
    """``median(other) / median(base)`` with its bootstrap confidence interval."""

    ratio: float
    low: float
    high: float
    confidence: float

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 1 (a real difference at this confidence)."""
        return not self.low <= 1.0 <= self.high

    def describe(self) -> str:
        """``within noise (x1.02, 95 % CI 0.98-1.05)`` or ``slower by 23 % (95 % CI 18-29 %)``."""
        level = f"{self.confidence:.0%} CI"
        if not self.significant:
            return f"within noise (x{self.ratio:.2f}, {level} {self.low:.2f}-{self.high:.2f})"
        if self.ratio > 1:
            return (
                f"slower by {(self.ratio - 1):.0%} ({level} {(self.low - 1):.0%}-"
                f"{(self.high - 1):.0%})"
            )
        return (
            f"faster by {(1 - self.ratio):.0%} ({level} {(1 - self.high):.0%}-"
            f"{(1 - self.low):.0%})"
        )


def _medians(values: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    out = np.empty(count)
    for start in range(0, count, _CHUNK):
        n = min(_CHUNK, count - start)
        picks = rng.integers(0, values.size, size=(n, values.size))
        out[start : start + n] = np.median(values[picks], axis=1)
    return out


def compare_medians(
    base: Sequence[float],
    other: Sequence[float],
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> MedianRatio:
    """Bootstrap interval of ``median(other) / median(base)``.

    Raises
    ------
    ValueError
        If either run has no values or a median of zero.
    """
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("both runs need values to compare")
    if np.median(a) <= 0 or np.median(b) <= 0:
        raise ValueError("medians must be positive to compare them as a ratio")
    rng = np.random.default_rng(seed)
    ratios = _medians(b, rng, resamples) / _medians(a, rng, resamples)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return MedianRatio(float(np.median(b) / np.median(a)), float(low), float(high), confidence)


#: runs per side a between-run verdict needs by default
MIN_RUNS = 3


@dataclass(frozen=True)
class RunsRatio:
    """How one set of runs compares with another, judged at the level of runs.

    ``ratio`` is the geometric mean of the ``other`` runs' medians over that of the ``base``
    runs; ``low``/``high`` its interval at ``confidence`` (None when no claim is made);
    ``refused`` says why no claim is made (too few runs, or a run whose verdict is not VALID).
    """

    ratio: float
    low: float | None
    high: float | None
    confidence: float
    runs: tuple[int, int]
    refused: str | None = None

    @property
    def judged(self) -> bool:
        """Whether the interval could be computed (enough runs, every run VALID)."""
        return self.refused is None and self.low is not None and self.high is not None

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 1: a difference beyond run-to-run noise."""
        return self.judged and not (self.low or 0.0) <= 1.0 <= (self.high or 0.0)

    def describe(self) -> str:
        """What the comparison says, in words.

        ``within noise (x1.01, 95% CI 0.98-1.03; 3+3 runs)``, ``slower by 12% (...)``, or
        ``x1.23, not judged: ...``.
        """
        runs = f"{self.runs[0]}+{self.runs[1]} runs"
        if not self.judged:
            return f"x{self.ratio:.2f}, not judged: {self.refused}"
        low, high = self.low or 0.0, self.high or 0.0
        level = f"{self.confidence:.0%} CI"
        if not self.significant:
            return f"within noise (x{self.ratio:.2f}, {level} {low:.2f}-{high:.2f}; {runs})"
        if self.ratio > 1:
            return f"slower by {self.ratio - 1:.0%} ({level} {low - 1:.0%}-{high - 1:.0%}; {runs})"
        return f"faster by {1 - self.ratio:.0%} ({level} {1 - high:.0%}-{1 - low:.0%}; {runs})"


def compare_runs(
    base: Sequence[Sequence[float]],
    other: Sequence[Sequence[float]],
    confidence: float = 0.95,
    min_runs: int = MIN_RUNS,
    refused: str | None = None,
) -> RunsRatio:
    """Interval of the ratio of two sets of runs' typical latency, from run-to-run variation.

    Each run is one number, the median of its per-call values; the interval is Welch's t
    interval of the difference of the two sets' mean log-medians, turned back into a ratio.
    Samples of one run are not independent of each other in what matters here (the build's
    placement in memory, the machine's state during that run), so the run is the unit: a
    2 % shift between runs of one build is noise, not a difference. With fewer than
    ``min_runs`` runs on a side, or when ``refused`` gives a reason (a run whose verdict is
    not VALID), the ratio is reported and no claim is made. docs/measurement.md gives the
    false-positive and detection rates measured with ``bench/verdicts.py``.

    Raises
    ------
    ValueError
        If a side has no runs, a run has no values, or a median is not positive.
    """
    from scipy import stats

    a = _log_medians(base)
    b = _log_medians(other)
    ratio = float(np.exp(b.mean() - a.mean()))
    runs = (a.size, b.size)
    if refused is None and min(runs) < min_runs:
        refused = f"{runs[0]}+{runs[1]} runs; run-to-run noise needs {min_runs} per side"
    if refused is not None:
        return RunsRatio(ratio, None, None, confidence, runs, refused)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    spread = float(np.sqrt(va + vb))
    if spread == 0.0:
        return RunsRatio(ratio, ratio, ratio, confidence, runs)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df)) * spread
    diff = float(b.mean() - a.mean())
    return RunsRatio(
        ratio, float(np.exp(diff - half)), float(np.exp(diff + half)), confidence, runs
    )


def _log_medians(runs: Sequence[Sequence[float]]) -> np.ndarray:
    if not runs or any(len(run) == 0 for run in runs):
        raise ValueError("every run needs values to compare")
    medians = np.array([np.median(np.asarray(run, dtype=np.float64)) for run in runs])
    if np.any(medians <= 0):
        raise ValueError("medians must be positive to compare them as a ratio")
    return np.log(medians)

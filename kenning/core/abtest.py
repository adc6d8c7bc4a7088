"""Is one run faster than another, or is the difference noise? A bootstrap of the median ratio.

:func:`compare_medians` resamples both runs' per-sample values with replacement and takes
the ratio of the medians each time; the central ``confidence`` share of those ratios is the
interval. When it contains 1 the runs are within noise of each other; otherwise the second
is slower (or faster) by the stated percentage. The comparison report uses it for each run
against the fastest, ``invoke reproduce`` for a re-run against the original.
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
            return (f"slower by {(self.ratio - 1):.0%} ({level} {(self.low - 1):.0%}-"
                    f"{(self.high - 1):.0%})")  # fmt: skip
        return (f"faster by {(1 - self.ratio):.0%} ({level} {(1 - self.high):.0%}-"
                f"{(1 - self.low):.0%})")  # fmt: skip


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

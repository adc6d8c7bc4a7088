"""The verdict of a reproduction: one row per check, and how a re-run compares with the original.

:func:`compare` sets the numbers of a re-run beside the original's (status, samples,
accuracy, every prediction, latency p50 within a band); :func:`format_verdict` prints the
table and the last line, REPRODUCED or NOT REPRODUCED with what differed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kenning.core.abtest import compare_medians
from kenning.core.figures import PRIMARY
from kenning.core.results import Results

#: default relative band for latency p50 (0.5: the new p50 is within 1/1.5 ... 1.5 x the old)
LATENCY_BAND = 0.5
#: differences in p50 below this are timer and scheduling noise, whatever the ratio
LATENCY_FLOOR_S = 20e-6


@dataclass
class Check:
    """One row of the verdict table."""

    subject: str
    original: str
    reproduced: str
    verdict: str
    ok: bool
    warning: bool = False


@dataclass
class Verdict:
    """What :func:`reproduce` found."""

    original: Path
    reproduced: Path | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed (warnings allowed)."""
        return bool(self.checks) and all(c.ok for c in self.checks)


def compare(old: Results, new: Results, band: float = LATENCY_BAND) -> list[Check]:
    """Compare a reproduced run with the original: status, samples, accuracy, latency."""
    checks = [Check("status", old.status, new.status, "", ok=new.status == "complete")]
    checks[-1].verdict = "complete" if checks[-1].ok else "the run did not complete"
    same_n = len(old.samples) == len(new.samples)
    checks.append(Check("samples", str(len(old.samples)), str(len(new.samples)),
                        "same" if same_n else "differs", ok=same_n))  # fmt: skip
    acc_old = old.metrics.accuracy if old.metrics else math.nan
    acc_new = new.metrics.accuracy if new.metrics else math.nan
    same_acc = acc_old == acc_new
    checks.append(Check("accuracy", f"{acc_old:.4f}", f"{acc_new:.4f}",
                        "equal" if same_acc else "differs", ok=same_acc))  # fmt: skip
    if same_n:
        changed = sum(a.predictions[:1] != b.predictions[:1]
                      for a, b in zip(old.samples, new.samples, strict=True))  # fmt: skip
        checks.append(Check("predictions", "", f"{changed} differ",
                            "identical" if not changed else "differ", ok=not changed))  # fmt: skip
    checks.extend(latency_check(old, new, band))
    return checks


def latency_check(old: Results, new: Results, band: float = LATENCY_BAND) -> list[Check]:
    """The inference figure's median, original against re-run, by a bootstrap of their ratio.

    Within noise passes; a significant difference passes with a warning while it stays
    inside ``band`` (or under :data:`LATENCY_FLOOR_S`), and fails outside it.
    """
    before, after = old.figure_values(PRIMARY), new.figure_values(PRIMARY)
    if not before or not after:
        return []
    ratio = compare_medians(before, after)
    p_old, p_new = float(np.median(before)), float(np.median(after))
    inside = (1 / (1 + band) <= ratio.ratio <= 1 + band) or abs(p_new - p_old) < LATENCY_FLOOR_S
    verdict = ratio.describe()
    if not inside:
        verdict += f": outside ±{band:.0%}"
    return [Check(f"{PRIMARY} p50", f"{p_old * 1e3:.4f} ms", f"{p_new * 1e3:.4f} ms", verdict,
                  ok=inside, warning=ratio.significant)]  # fmt: skip


def format_verdict(verdict: Verdict) -> str:
    """The verdict table and a last line saying REPRODUCED or NOT REPRODUCED."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"reproducing {verdict.original}")
    for column in ("check", "original", "reproduced", "verdict"):
        table.add_column(column)
    for c in verdict.checks:
        mark = "ok" if c.ok and not c.warning else ("warning" if c.ok else "FAIL")
        table.add_row(c.subject, c.original, c.reproduced, f"{mark}: {c.verdict}")
    buffer = StringIO()
    Console(file=buffer, width=140, force_terminal=False).print(table)
    failed = [f"{c.subject}: {c.verdict}" for c in verdict.checks if not c.ok]
    if verdict.ok:
        last = f"REPRODUCED: {verdict.original} (new results: {verdict.reproduced})"
    else:
        last = f"NOT REPRODUCED: {verdict.original}:\n" + "".join(f"  - {f}\n" for f in failed)
    return buffer.getvalue() + last.rstrip("\n") + "\n"

"""The verdict of a reproduction: one row per check, and how the re-runs compare with the original.

:func:`compare` sets the numbers of the re-runs beside the original's (status, samples,
accuracy, every prediction, each run's verdict, and latency judged between runs within a
band); :func:`format_verdict` prints the table and the last line: REPRODUCED, NOT
REPRODUCED (a check failed) or UNVERIFIED (none failed, but one could not be made: too few
runs to judge latency, or a run that is not VALID).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kenning.core.figures import PRIMARY
from kenning.core.results import Results
from kenning.core.runset import compare_sets, refusal

#: default relative band for latency p50 (0.5: the new p50 is within 1/1.5 ... 1.5 x the old)
LATENCY_BAND = 0.5
#: differences in p50 below this are timer and scheduling noise, whatever the ratio
LATENCY_FLOOR_S = 20e-6


@dataclass
class Check:
    """One row of the verdict table.

    It passed (``ok``), passed with a ``warning``, failed, or is ``unverified``: the check
    could not be made (``ok`` is then False too).
    """

    subject: str
    original: str
    reproduced: str
    verdict: str
    ok: bool
    warning: bool = False
    unverified: bool = False

    @property
    def mark(self) -> str:
        """``ok``, ``warning``, ``FAIL`` or ``UNVERIFIED``."""
        if self.unverified:
            return "UNVERIFIED"
        return ("warning" if self.warning else "ok") if self.ok else "FAIL"


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

    @property
    def state(self) -> str:
        """``REPRODUCED``, ``NOT REPRODUCED`` or ``UNVERIFIED``.

        NOT REPRODUCED when a check failed; UNVERIFIED when none failed but one could not
        be made.
        """
        if self.ok:
            return "REPRODUCED"
        failed = any(not c.ok and not c.unverified for c in self.checks) or not self.checks
        return "NOT REPRODUCED" if failed else "UNVERIFIED"


def compare(
    old: Results | Sequence[Results], new: Results | Sequence[Results], band: float = LATENCY_BAND
) -> list[Check]:
    """Compare re-runs with the original runs: status, samples, accuracy, verdicts, latency.

    Each side is a run or the set of a deployment's repeated runs (the first one's samples and
    predictions are compared; latency by :func:`latency_check` over every run).
    """
    olds = [old] if isinstance(old, Results) else list(old)
    news = [new] if isinstance(new, Results) else list(new)
    first_old, first_new = olds[0], news[0]
    statuses = [r.status for r in news]
    complete = all(status == "complete" for status in statuses)
    checks = [
        Check(
            "status",
            first_old.status,
            ", ".join(statuses),
            "complete" if complete else "a run did not complete",
            ok=complete,
        )
    ]
    # a run measures until it is long enough, so runs differ in length: compare what both have
    both = min(len(first_old.samples), len(first_new.samples))
    order_old = [(x.seq, x.index) for x in sorted(first_old.samples, key=lambda x: x.seq)]
    order_new = [(x.seq, x.index) for x in sorted(first_new.samples, key=lambda x: x.seq)]
    same_order = both > 0 and order_old[:both] == order_new[:both]
    checks.append(
        Check(
            "samples",
            str(len(first_old.samples)),
            str(len(first_new.samples)),
            f"the same order over the {both} both measured" if same_order else "another order",
            ok=same_order,
        )
    )
    acc_old = first_old.metrics.accuracy if first_old.metrics else math.nan
    acc_new = first_new.metrics.accuracy if first_new.metrics else math.nan
    same_acc = acc_old == acc_new or (math.isnan(acc_old) and math.isnan(acc_new))
    checks.append(
        Check(
            "accuracy",
            f"{acc_old:.4f}",
            f"{acc_new:.4f}",
            "equal" if same_acc else "differs",
            ok=same_acc,
        )
    )
    if same_order:
        changed = sum(
            a.predictions[:1] != b.predictions[:1]
            for a, b in zip(first_old.samples[:both], first_new.samples[:both], strict=True)
        )
        checks.append(
            Check(
                "predictions",
                "",
                f"{changed} differ",
                "identical" if not changed else "differ",
                ok=not changed,
            )
        )
    checks.append(verdicts_check(olds, news))
    checks.extend(latency_check(olds, news, band))
    return checks


def _states(runs: Sequence[Results]) -> str:
    states = [r.verdict.state if r.verdict is not None else "none" for r in runs]
    return ", ".join(f"{states.count(s)}x {s}" for s in dict.fromkeys(states))


def verdicts_check(old: Sequence[Results], new: Sequence[Results]) -> Check:
    """Every run's verdict on both sides: a latency is only compared between VALID runs."""
    why = refusal(old, "the original") or refusal(new, "the re-run")
    return Check(
        "run verdicts",
        _states(old),
        _states(new),
        "every run VALID" if why is None else why,
        ok=why is None,
        unverified=why is not None,
    )


def latency_check(
    old: Results | Sequence[Results], new: Results | Sequence[Results], band: float = LATENCY_BAND
) -> list[Check]:
    """The inference figure, original runs against re-runs, judged between runs.

    Within noise passes; a significant difference passes with a warning while it stays inside
    ``band`` (or under :data:`LATENCY_FLOOR_S`), and fails outside it. With too few runs or a
    run that is not VALID nothing is claimed (UNVERIFIED): only the ratio is shown.
    """
    olds = [old] if isinstance(old, Results) else list(old)
    news = [new] if isinstance(new, Results) else list(new)
    if not all(r.figure_values(PRIMARY) for r in [*olds, *news]):
        return []
    ratio = compare_sets(olds, news)
    p_old = float(np.median([np.median(r.figure_values(PRIMARY)) for r in olds]))
    p_new = float(np.median([np.median(r.figure_values(PRIMARY)) for r in news]))
    inside = (1 / (1 + band) <= ratio.ratio <= 1 + band) or abs(p_new - p_old) < LATENCY_FLOOR_S
    subject = f"{PRIMARY} p50 (median of runs)"
    shown = (f"{p_old * 1e3:.4f} ms", f"{p_new * 1e3:.4f} ms")
    if not ratio.judged:
        return [Check(subject, *shown, ratio.describe(), ok=False, unverified=True)]
    verdict = ratio.describe()
    if not inside:
        verdict += f": outside ±{band:.0%}"
    return [Check(subject, *shown, verdict, ok=inside, warning=ratio.significant)]


def format_verdict(verdict: Verdict) -> str:
    """The verdict table and a last line saying REPRODUCED or NOT REPRODUCED."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"reproducing {verdict.original}")
    for column in ("check", "original", "reproduced", "verdict"):
        table.add_column(column)
    for c in verdict.checks:
        table.add_row(c.subject, c.original, c.reproduced, f"{c.mark}: {c.verdict}")
    buffer = StringIO()
    Console(file=buffer, width=200, force_terminal=False).print(table)
    failed = [f"{c.subject}: {c.verdict}" for c in verdict.checks if not c.ok and not c.unverified]
    unchecked = [f"{c.subject}: {c.verdict}" for c in verdict.checks if c.unverified]
    if verdict.ok:
        last = f"REPRODUCED: {verdict.original} (new results: {verdict.reproduced})"
    elif failed:
        last = f"NOT REPRODUCED: {verdict.original}:\n" + "".join(f"  - {f}\n" for f in failed)
    else:
        last = (
            f"UNVERIFIED: {verdict.original}: what was checked reproduced; not checked:\n"
            + "".join(f"  - {u}\n" for u in unchecked)
        )
    return buffer.getvalue() + last.rstrip("\n") + "\n"

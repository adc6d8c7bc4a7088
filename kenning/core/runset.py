"""A deployment's repeated runs: one results file per run, the first one naming the others.

``invoke bench`` measures each deployment ``repeats`` times (each run a process of its own,
so that what differs between runs shows): the first run's file is ``NAME.json`` and names
the others in ``provenance["repeats"]`` (paths relative to its folder, ``NAME.runs/2.json``
and on). Every comparison that says "faster", "slower" or "within noise" compares such sets
(:func:`kenning.core.abtest.compare_runs`), and only when every run in them is VALID.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kenning.core.abtest import RunsRatio, compare_runs
from kenning.core.figures import PRIMARY
from kenning.core.results import Results, load_results

REPEATS = "repeats"


def repeat_path(primary: Path, number: int) -> Path:
    """Where run ``number`` (2, 3, ...) of the deployment whose first run is ``primary`` goes."""
    return primary.with_name(primary.name.removesuffix(".json") + ".runs") / f"{number}.json"


def run_set(path: Path, results: Results | None = None) -> list[tuple[Path, Results]]:
    """The run in ``path`` and the repeats it names, in order.

    Raises
    ------
    ResultsError
        If a named repeat is missing or not a results file.
    """
    first = results if results is not None else load_results(path)
    runs = [(Path(path), first)]
    for name in first.provenance.get(REPEATS) or []:
        other = Path(path).parent / str(name)
        runs.append((other, load_results(other)))
    return runs


def refusal(runs: Sequence[Results], side: str) -> str | None:
    """Why a set of runs cannot back a claim (a run whose verdict is not VALID), or None."""
    for number, run in enumerate(runs, 1):
        verdict = run.verdict
        if verdict is None or verdict.state != "VALID":
            state = verdict.line() if verdict is not None else "no verdict"
            return f"{side} run {number} of {len(runs)} is {state}"
    return None


def compare_sets(
    base: Sequence[Results],
    other: Sequence[Results],
    names: tuple[str, str] = ("the original", "the re-run"),
    confidence: float = 0.95,
) -> RunsRatio:
    """:func:`compare_runs` of two sets of runs' inference figure, refused unless all VALID."""
    why = refusal(base, names[0]) or refusal(other, names[1])
    return compare_runs(
        [r.figure_values(PRIMARY) for r in base],
        [r.figure_values(PRIMARY) for r in other],
        confidence,
        refused=why,
    )

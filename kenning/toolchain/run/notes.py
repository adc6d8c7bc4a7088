"""Notes a run prints about what it found: a deployment far slower than another of its model.

Untuned TVM was 25-70x slower than ONNX Runtime on ResNet-style nets and said nothing; a
note names both deployments, the factor and what usually helps.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kenning.core.results import load_results
from kenning.utils.errors import KenningError

#: a deployment this many times slower (inference p50) than the fastest of its model
SLOWER = 10.0

_HINTS = {"tvm": "tune it: give the tvm step `tune-trials: N`"}


def slower_notes(results: Iterable[Path], factor: float = SLOWER) -> list[str]:
    """One line per deployment ``factor`` times slower than the fastest one of its model.

    Reference runs (the framework) are not compared; runs on different boards are compared
    only with runs on their own board.
    """
    groups: dict[tuple[str, str], list[tuple[str, float, list[str]]]] = {}
    for path in results:
        try:
            res = load_results(path)
        except KenningError:
            continue
        deployment = res.provenance.get("deployment")
        if not deployment or deployment == "reference" or res.primary is None:
            continue
        key = (str(res.provenance.get("model")), str(res.provenance.get("board")))
        chain = list(res.provenance.get("chain") or [])
        groups.setdefault(key, []).append((str(deployment), res.primary.median, chain))
    notes = []
    for (model, board), runs in groups.items():
        fastest = min(runs, key=lambda run: run[1])
        for name, median, chain in runs:
            if median >= factor * fastest[1] and fastest[1] > 0:
                hint = next((_HINTS[c] for c in chain if c in _HINTS), "")
                notes.append(
                    f"note: deployment '{name}' is {median / fastest[1]:.0f}x slower than "
                    f"'{fastest[0]}' on board {board} (model {model}, inference p50 "
                    f"{median * 1e3:.3f} ms vs {fastest[1] * 1e3:.3f} ms)"
                    + (f"; {hint}" if hint else "")
                )
    return notes

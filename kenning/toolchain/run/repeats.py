"""A deployment's repeated runs on disk: which files, how they name each other, which are done.

``invoke bench`` and the reference runs measure each deployment ``repeats`` times, each run a
process of its own (:mod:`kenning.core.runset` reads such a set back).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kenning.core.results import load_results
from kenning.core.runset import REPEATS, repeat_path
from kenning.utils.errors import KenningError


def run_files(first: Path, repeats: int) -> list[Path]:
    """The results files of a deployment's runs: ``first``, then its repeats."""
    return [first, *(repeat_path(first, number) for number in range(2, repeats + 1))]


def run_links(runs: Sequence[Path], number: int) -> dict[str, Any]:
    """Provenance linking run ``number`` (1-based) of ``runs`` with the others."""
    if number == 1:
        return {"run": 1, REPEATS: [str(p.relative_to(runs[0].parent)) for p in runs[1:]]}
    return {"run": number, "repeat_of": runs[0].name}


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds a complete run."""
    try:
        return path.is_file() and load_results(path).status == "complete"
    except KenningError:
        return False

"""A re-run's inputs: copied from where the original ran, and checked against their hashes.

Each step's record names the files it read (relative to its working folder, or absolute) and
their sha256 as it read them (:func:`kenning.toolchain.run.steps.input_hashes`). A re-run
copies the relative ones that no earlier step makes into its workspace, so it works from any
working directory, and reports an input that is gone or has changed since.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kenning.executors.base import ExecutionRecord
from kenning.toolchain.reproduce.verdict import Check
from kenning.toolchain.run.steps import Step
from kenning.utils.provenance import sha256_tree


def copy_inputs(step: Step, made: set[str], old: Path, new: Path) -> None:
    """Copy the inputs of ``step`` that no earlier step makes from ``old`` into ``new``."""
    for item in step.inputs:
        if item in made or Path(item).is_absolute():
            continue
        source, dest = old / item, new / item
        if dest.exists() or not source.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copy2(source, dest)


def check_inputs(
    name: str, record: ExecutionRecord, made: set[str], workspace: Path, seen: set[str]
) -> list[Check]:
    """A row for each recorded input of step ``name`` not made by a step and not yet seen.

    An input that is gone (neither in the workspace nor where the original ran) or whose
    hash differs fails; the re-run can go on with a changed input (its outcome shows what
    the change did) but not with a missing one (the caller stops at a failed row whose
    ``reproduced`` is ``missing``).
    """
    rows = []
    for item, recorded in record.inputs_sha256.items():
        if item in made or item in seen:
            continue
        seen.add(item)
        path = workspace / item  # an absolute item stays itself
        subject = f"{name}: input {item}"
        if not path.exists():
            rows.append(
                Check(
                    subject,
                    recorded[:12],
                    "missing",
                    f"not in {record.workdir} any more: put it back to reproduce",
                    ok=False,
                )
            )
            continue
        now = sha256_tree(path)
        same = now == recorded
        verdict = "same data" if same else "changed since the run: the figures may differ"
        rows.append(Check(subject, recorded[:12], now[:12], verdict, ok=same))
    return rows

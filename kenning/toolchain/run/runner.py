"""Run a whole scenario: train what it trains, reference runs, every deployment, one report.

``invoke demo`` is this on ``scenarios/digits.yaml``; ``python -m kenning.scenarios.run
FILE`` is this on any scenario file. The benchmarks go through the real protocol to an
``inference_server`` on each board; every step's record stays with the results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from kenning.boards.base import Board
from kenning.boards.local import LocalBoard
from kenning.core.results import write_atomically
from kenning.executors.base import Executor
from kenning.toolchain.run.benchtask import run_bench
from kenning.toolchain.run.boardchoice import resolve_boards
from kenning.toolchain.run.job import Job
from kenning.toolchain.run.training import train_models
from kenning.utils.errors import GroupError


def run_scenario(
    executor: Executor,
    job: Job,
    build: Path,
    boards: Sequence[Board] | None = None,
    *,
    train: bool = True,
    deployments: Sequence[str] = (),
    trust_host_key: bool = False,
) -> Path:
    """Train, run the references, bench every deployment on every board, render the report.

    Parameters
    ----------
    executor : Executor
        Runs training, references and compiling (local, or Docker for the pinned images).
    build : Path
        Output folder.
    boards : sequence of Board, optional
        Where to benchmark (default: the scenario's ``boards:``).
    train : bool
        Train the models that have ``train:`` (False: use the ones in ``build/models``).
    deployments : sequence of str
        Only these deployments (default: every one each board runs).
    trust_host_key : bool
        Accept unknown SSH host keys of the scenario's boards.

    Returns
    -------
    Path
        The HTML comparison report (also in ``build/summary.json``).

    Raises
    ------
    KenningError
        When a step fails; the results of the other steps stay in ``build``.
    """
    build.mkdir(parents=True, exist_ok=True)
    if boards is None:
        names = job.scenario.boards
        boards = (
            [LocalBoard()]
            if names == ["local"]
            else resolve_boards(names, trust_host_key=trust_host_key)
        )
    trained = train_models(executor, job, build) if train else {}
    before = {name: {"train": record} for name, record in trained.items()}
    summary = build / "summary.json"
    try:
        report, results = run_bench(executor, job, build, boards, deployments, before=before)
    except GroupError as exc:
        failures = {name: str(err) for name, err in exc.failures.items()}
        write_atomically(
            summary,
            json.dumps(
                {"results": [str(p) for p in exc.results.values()], "failures": failures}, indent=2
            ),
        )
        raise
    write_atomically(
        summary,
        json.dumps(
            {"results": [str(p) for p in results], "report": str(report), "failures": {}}, indent=2
        ),
    )
    return report

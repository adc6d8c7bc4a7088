"""``invoke bench``: pick the board and the artifacts, bench each, render one report."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

from kenning.boards.base import Board
from kenning.boards.local import LocalBoard
from kenning.core.measure import MeasureSettings
from kenning.executors.base import Executor
from kenning.toolchain.bench import bench_artifact
from kenning.toolchain.demo import render
from kenning.toolchain.demo_models import ARTIFACTS, MODELS, Artifact, artifact, model_path
from kenning.utils.errors import ConfigurationError, GroupError, KenningError, ModelError
from kenning.utils.imports import require
from kenning.utils.progress import progress

log = logging.getLogger("kenning.bench")


def resolve_board(name: str, *, trust_host_key: bool = False) -> Board:
    """The board called ``name`` in the inventory (``local`` needs none).

    Raises
    ------
    ConfigurationError
        If the inventory has no such board or is invalid.
    MissingDependencyError
        If pyyaml (the ``ssh`` extra) is not installed.
    """
    if name == "local" and importlib.util.find_spec("yaml") is None:
        return LocalBoard()  # without the ssh extra there is no inventory: this machine only
    require("yaml", "ssh")
    from kenning.boards.inventoryfile import load_inventory

    entry = load_inventory().board(name)
    if entry.deploy == "local":
        board = LocalBoard(name, entry.runtime_args)
        board.runtimes = list(entry.runtimes)
        return board
    from kenning.boards.remote import RemoteBoard

    return RemoteBoard(entry, trust_host_key=trust_host_key)


def choose_artifacts(
    board: Board, names: Sequence[str], model: str, compiler: str, runtime: str
) -> list[Artifact]:
    """The artifacts to bench: named ones, one ad-hoc one, or all the board can run.

    Raises
    ------
    ConfigurationError
        For unknown names, an incomplete ad-hoc artifact, or nothing the board runs.
    """
    if model or compiler or runtime:
        if not (model and compiler and runtime):
            raise ConfigurationError("--model, --compiler and --runtime go together")
        return [Artifact(f"{model}-{compiler}-{runtime}", model, compiler, runtime)]
    if names:
        return [artifact(n) for n in names]
    offered = getattr(board, "runtimes", None)
    chosen = [a for a in ARTIFACTS if offered is None or a.runtime in offered]
    if not chosen:
        raise ConfigurationError(f"board '{board.name}' offers no runtime the demo artifacts use")
    return chosen


def run_bench(
    executor: Executor,
    board_name: str,
    build: Path,
    names: Sequence[str] = (),
    model: str = "",
    compiler: str = "",
    runtime: str = "",
    *,
    resume: bool = False,
    trust_host_key: bool = False,
    measure: MeasureSettings | None = None,
) -> tuple[Path, list[Path]]:
    """Bench artifacts on a board and render their comparison report.

    Returns
    -------
    tuple of Path and list of Path
        The report and the results files.

    Raises
    ------
    KenningError
        If the board or a model is missing, or every artifact failed; the error of each
        failed artifact is in the message, results of the others are kept.
    """
    board = resolve_board(board_name, trust_host_key=trust_host_key)
    chosen = choose_artifacts(board, names, model, compiler, runtime)
    for source in {a.model for a in chosen}:
        trained = model_path(build, MODELS[source])
        if not trained.is_file():
            raise ModelError(
                f"{trained} is missing: run `invoke train --build {build}` first", trained
            )
    done: dict[str, Path] = {}
    failures: dict[str, KenningError] = {}
    with progress(f"benchmarking on {board.name}", len(chosen)) as advance:
        for item in chosen:
            try:
                done[item.name] = bench_artifact(executor, board, build, item, resume=resume,
                                                 measure=measure)  # fmt: skip
            except KenningError as exc:
                log.error("%s on %s failed: %s", item.name, board.name, exc)
                failures[item.name] = exc
            advance(1)
    what = f"artifacts on board {board.name}"
    if not done:
        raise GroupError(what, done, failures)
    results = list(done.values())
    report = render(results, build / "reports" / board.name / "index.html",
                    f"Digits classification on board {board.name}")  # fmt: skip
    if failures:
        raise GroupError(what, done, failures, f"report of the others: {report}; "
                         "`invoke bench --resume` continues partial runs")  # fmt: skip
    return report, results

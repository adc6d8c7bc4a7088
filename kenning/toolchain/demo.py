"""The demo: train the digits models, compile them every way, benchmark each on a board.

Each step is a scenario command run by an executor, so the results keep the
provenance of every step; the benchmarks go through the real protocol to an
``inference_server`` on the local board.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kenning.boards.base import Board
from kenning.boards.local import LocalBoard
from kenning.core.results import write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.executors.local import LocalExecutor
from kenning.toolchain.bench import attach, bench_artifact
from kenning.toolchain.demo_models import (
    ARTIFACTS,
    DIGITS,
    MODELS,
    TRAIN_IMAGES,
    Artifact,
    Model,
    model_path,
)
from kenning.toolchain.steps import Step, paths, python
from kenning.utils.errors import GroupError, KenningError
from kenning.utils.progress import progress

__all__ = ["ARTIFACTS", "MODELS", "TRAIN_IMAGES", "Artifact", "Model", "model_path", "run_demo"]

log = logging.getLogger("kenning.demo")


def train(executor: Executor, build: Path, epochs: int) -> dict[str, ExecutionRecord]:
    """Train every demo model; return each training step's record."""
    records = {}
    for model in MODELS.values():
        trained, logs = model_path(build, model), build / "logs" / model.name
        records[model.name] = Step(
            "train", TRAIN_IMAGES[model.name],
            python("kenning.scenarios.model_training", model.wrapper, DIGITS,
                   "--model-path", str(trained), "--logdir", str(logs),
                   "--num-epochs", str(epochs)),
            outputs=paths(trained, logs),
        ).run(executor)  # fmt: skip
    return records


def baseline(build: Path, model: Model, trained: ExecutionRecord) -> Path:
    """Run a model in its own framework on this host: the reference point."""
    out = build / "results" / "framework" / f"{model.name}.json"
    source = model_path(build, model)
    record = Step(
        "benchmark", "",
        python("kenning.scenarios.inference_performance", model.wrapper, DIGITS, str(out),
               "--model-path", str(source)),
        inputs=paths(source), outputs=paths(out),
    ).run(LocalExecutor())  # fmt: skip
    attach(out, {"train": trained, "benchmark": record},
           {"board": "host", "artifact": f"{model.name} (framework)"})  # fmt: skip
    return out


def run_demo(
    executor: Executor, build: Path, epochs: int = 10, board: Board | None = None
) -> Path:
    """Train, compile every way, benchmark on the local board and render the report.

    Parameters
    ----------
    executor : Executor
        Runs training and compiling (local, or Docker for the pinned images).
    build : Path
        Output folder.
    epochs : int
        Training epochs.
    board : Board, optional
        Where to benchmark (default: this machine).

    Returns
    -------
    Path
        The HTML comparison report.

    Raises
    ------
    KenningError
        When a step fails; the results of the steps before it stay in ``build``.
    """
    board = board or LocalBoard()
    build.mkdir(parents=True, exist_ok=True)
    trained = train(executor, build, epochs)
    outputs: list[Path] = []
    failures: dict[str, KenningError] = {}
    with progress("benchmarking artifacts", len(MODELS) + len(ARTIFACTS)) as advance:
        for model in MODELS.values():
            outputs.append(baseline(build, model, trained[model.name]))
            advance(1)
        for artifact in ARTIFACTS:
            try:
                outputs.append(bench_artifact(executor, board, build, artifact,
                                              {"train": trained[artifact.model]}))  # fmt: skip
            except KenningError as exc:  # keep going: one bad artifact must not hide the rest
                log.error("%s failed: %s", artifact.name, exc)
                failures[artifact.name] = exc
            advance(1)
    report = render(outputs, build / "report" / "index.html",
                    "Digits classification: every deployment compared")  # fmt: skip
    write_atomically(build / "demo-summary.json", json.dumps(
        {"results": [str(p) for p in outputs], "report": str(report),
         "failures": {name: str(exc) for name, exc in failures.items()}},
        indent=2))  # fmt: skip
    if failures:
        raise GroupError("artifacts", {p.stem: p for p in outputs}, failures,
                         f"report of the others: {report}")  # fmt: skip
    return report


def render(results: list[Path], report: Path, title: str) -> Path:
    """Render an HTML comparison report of ``results``; return its path.

    Raises
    ------
    ExecutionError
        If rendering fails.
    """
    LocalExecutor().run(
        python("kenning.scenarios.render_report", *map(str, results), title, str(report),
                "--report-types", "performance", "classification", "--format", "html"),
    )  # fmt: skip
    return report

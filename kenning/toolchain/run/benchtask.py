"""``invoke bench --scenario``: pick boards and deployments, bench each, one report.

Before anything runs the scenario is checked whole (:func:`load_job`); then, per model,
the reference run in its framework; per board and deployment, compile and benchmark; each
deployment's outputs are compared with its model's reference (agreement), and one report
compares every run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kenning.boards.base import Board
from kenning.core.measure import MeasureSettings
from kenning.executors.base import ExecutionRecord, Executor
from kenning.executors.errors import ExecutionError
from kenning.executors.local import LocalExecutor
from kenning.toolchain.run.boardchoice import choose_deployments
from kenning.toolchain.run.compile import stage_model
from kenning.toolchain.run.job import Job
from kenning.toolchain.run.notes import slower_notes
from kenning.toolchain.run.steps import STEP_DEADLINE_S, python
from kenning.toolchain.run.training import current_reference, run_reference
from kenning.toolchain.run.workers import bench_boards
from kenning.toolchain.scenario.chains import check_scenario
from kenning.toolchain.scenario.load import ScenarioError, load_scenario
from kenning.utils.errors import ConfigurationError, GroupError, KenningError, ModelError
from kenning.utils.progress import progress

log = logging.getLogger("kenning.bench")

#: scenario ``measure:`` keys (the scenarios' flags without ``--``) -> MeasureSettings fields
MEASURE_KEYS = {
    "warmup": "warmup",
    "warmup-s": "warmup_s",
    "min-samples": "min_samples",
    "min-duration": "min_duration_s",
    "sample-seed": "seed",
    "seed": "seed",
    "percentiles": "percentiles",
    "confidence": "confidence",
    "max-other-load": "max_other_load",
    "subset": "subset",
    "repeats": "repeats",
}


def load_job(
    path: Path | str, measure: Mapping[str, Any] | None = None, overrides: Sequence[str] = ()
) -> Job:
    """Read and check a scenario file; ``measure`` overrides its ``measure:`` section.

    ``overrides`` are ``KEY.PATH=VALUE`` items set in the file's data before it is checked.

    Raises
    ------
    ScenarioError
        If the file is invalid or a chain cannot work (every problem, with its line).
    """
    scenario = load_scenario(path, overrides)
    models = check_scenario(scenario)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in scenario.measure.items():
        if key in MEASURE_KEYS:
            values[MEASURE_KEYS[key]] = value
        else:
            problems.append(
                f"{scenario.where('measure', key)}: key 'measure.{key}': unknown "
                f"key; valid keys: {', '.join(MEASURE_KEYS)}"
            )
    values.update(measure or {})
    settings = MeasureSettings()
    try:
        settings = MeasureSettings.checked(**values)
    except KenningError as exc:
        problems.append(f"{scenario.where('measure')}: {exc}")
    if problems:  # every bad setting at once, one line each
        raise ScenarioError("\n".join(problems))
    return Job(scenario, models, settings)


def check_models(job: Job, build: Path, names: Sequence[str]) -> None:
    """Refuse to start when a model to deploy is neither trained nor given as a file."""
    for name in {str(job.scenario.deployments[n].model) for n in names}:
        model = job.models[name]
        if model.origin is None and not model.path(build).is_file():
            raise ModelError(
                f"{model.path(build)} is missing: run `invoke train --build {build}` first",
                model.path(build),
            )


def run_bench(
    executor: Executor,
    job: Job,
    build: Path,
    boards: Sequence[Board],
    names: Sequence[str] = (),
    *,
    resume: bool = False,
    before: Mapping[str, Mapping[str, ExecutionRecord]] | None = None,
    workers: int = 0,
) -> tuple[Path, list[Path]]:
    """Reference runs, then every chosen deployment on every board, then one report.

    Boards are benched in parallel, ``workers`` at a time (0: all at once; 1: one after
    another), each board's deployments one after another (:mod:`kenning.toolchain.run.workers`).

    Returns
    -------
    tuple of Path and list of Path
        The report and the results files (references first).

    Raises
    ------
    KenningError
        If a model is missing, or something failed; the error of each failed run is in the
        message, results of the others are kept and reported.
    """
    plan = {board.name: choose_deployments(job, board, names) for board in boards}
    wanted = sorted({n for chosen in plan.values() for n in chosen})
    check_models(job, build, wanted)
    for board in boards:  # an unreachable board fails now, not after the compiles
        board.preflight()
    before = before or {}
    done: dict[str, Path] = {}
    failures: dict[str, KenningError] = {}
    references: dict[str, Path] = {}
    refused: dict[str, KenningError] = {}
    models = sorted({str(job.scenario.deployments[n].model) for n in wanted})
    total = sum(map(len, plan.values())) + (len(models) if job.scenario.reference else 0)
    with progress(f"scenario {job.scenario.name}", total) as advance:
        for name in models if job.scenario.reference else []:
            model = job.models[name]
            try:
                stage_model(model, build)
                earlier = None if name in before else current_reference(job, model, build)
                if earlier is not None:
                    log.info("reference run of %s: %s is current, re-used", name, earlier)
                references[name] = earlier or run_reference(
                    executor, job, model, build, before.get(name)
                )
                done[f"{name} (framework)"] = references[name]
            except KenningError as exc:
                refusal = exc.refusal() if isinstance(exc, ExecutionError) else None
                if refusal is not None:  # the model or data was refused: its reason, once
                    log.debug("reference run of %s refused its input: %s", name, exc)
                    exc = ConfigurationError(refusal)
                    refused[name] = exc
                else:
                    log.error("reference run of %s failed: %s", name, exc)
                exc = job.as_given(exc, name, build)
                failures[f"{name} (framework)"] = exc
            advance(1)
        runs = bench_boards(
            executor,
            job,
            build,
            {board: plan[board.name] for board in boards},
            before=before,
            references=references,
            refused=refused,
            advance=advance,
            resume=resume,
            workers=workers,
        )
    done.update(runs.done)
    failures.update(runs.failures)
    for note in slower_notes(done.values()):
        log.warning("%s", note)
    what = f"runs of scenario {job.scenario.name}"
    if not done:
        raise GroupError(what, done, failures)
    where = boards[0].name if len(boards) == 1 else "-".join(b.name for b in boards)
    results = list(done.values())
    title = job.scenario.title or f"Scenario {job.scenario.name}"
    report = render(
        results,
        build / "reports" / where / "index.html",
        f"{title} (board {', '.join(b.name for b in boards)})",
    )
    if failures:
        raise GroupError(
            what,
            done,
            failures,
            f"report of the others: {report}; `invoke bench --resume` continues partial runs",
        )
    return report, results


def render(results: list[Path], report: Path, title: str) -> Path:
    """Render an HTML comparison report of ``results``; return its path.

    Raises
    ------
    ExecutionError
        If rendering fails.
    """
    LocalExecutor().run(
        python(
            "kenning.scenarios.render_report",
            *map(str, results),
            title,
            str(report),
            "--report-types",
            "performance",
            "classification",
            "--format",
            "html",
        ),
        timeout=STEP_DEADLINE_S,
    )
    return report

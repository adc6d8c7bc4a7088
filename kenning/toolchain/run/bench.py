"""Benchmark one deployment of a scenario on one board: compile for it, serve, measure.

The steps: compile the model for the board's architecture (in the compile images when the
executor is Docker), start ``inference_server`` on the board (:class:`Board`
implementations: :class:`kenning.boards.local.LocalBoard`, and boards reached over SSH),
run ``inference_tester`` on this host against it with the artifact, and keep the records
of every step in the results file, so ``invoke reproduce`` can run them again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kenning.boards.base import Board
from kenning.core.agreement import (
    TOP1_TOLERANCE,
    Agreement,
    OutputRule,
    compare_outputs,
    with_boxes,
)
from kenning.core.boxagreement import compare_boxes
from kenning.core.measure import MeasureSettings
from kenning.core.recorder import outputs_path
from kenning.core.results import load_results, write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.executors.boarderrors import BoardError
from kenning.executors.errors import (
    ExecutionCancelledError,
    ExecutionError,
    ExecutionTimeoutError,
)
from kenning.executors.local import LocalExecutor
from kenning.toolchain.run.artifacts import Artifacts
from kenning.toolchain.run.compile import run_plan
from kenning.toolchain.run.console import step_log
from kenning.toolchain.run.job import Job
from kenning.toolchain.run.plan import DeploymentPlan
from kenning.toolchain.run.repeats import is_complete, run_files, run_links
from kenning.utils.errors import KenningError

log = logging.getLogger("kenning.bench")

#: seconds the benchmark step gets to start, load its data and write its results; a tester
#: that outlasts its deadline is stopped (its samples so far stay in the results file)
BENCHMARK_BASE_S = 1800.0
#: seconds allowed for each inference asked for (warm-up and samples), at the slowest
BENCHMARK_SAMPLE_S = 10.0


def attach(
    results_path: Path,
    steps: Mapping[str, ExecutionRecord],
    extra: Mapping[str, Any],
    agreement: Agreement | None = None,
) -> None:
    """Store the steps' records (in order), ``extra`` and the agreement in a results file."""
    results = load_results(results_path)
    results.provenance.update(extra)
    results.agreement = agreement or results.agreement
    results.provenance["steps"] = {k: v.model_dump(mode="json") for k, v in steps.items()}
    write_atomically(results_path, results.dump())


def results_path(build: Path, board: Board, name: str) -> Path:
    """Where the results of deployment ``name`` on ``board`` go."""
    return build / "results" / board.name / f"{name}.json"


def bench_deployment(
    executor: Executor,
    board: Board,
    build: Path,
    job: Job,
    name: str,
    before: Mapping[str, ExecutionRecord] | None = None,
    *,
    resume: bool = False,
    reference: Path | None = None,
    artifacts: Artifacts | None = None,
) -> Path:
    """Compile deployment ``name`` for ``board``, benchmark it there through the protocol.

    Parameters
    ----------
    executor : Executor
        Runs the compile steps (the benchmark itself runs on this host, locally).
    board : Board
        Where the server runs.
    build : Path
        Folder with ``models/``; artifacts, results and board logs are written under it.
    job : Job
        The scenario, its models and the measurement settings.
    name : str
        The deployment.
    before : mapping, optional
        Records of earlier steps (training) to keep with the results.
    resume : bool
        Continue a partial results file instead of starting again.
    reference : Path, optional
        The model's reference run: the outputs' agreement with it is stored in the results.
    artifacts : Artifacts, optional
        The run's artifacts: a deployment is compiled once per architecture.

    Returns
    -------
    Path
        The results file.

    Raises
    ------
    KenningError
        When a step fails; completed samples stay in the results file.
    """
    out = results_path(build, board, name)
    out.parent.mkdir(parents=True, exist_ok=True)
    planned = job.plan(name, build, board.arch)
    _, records = (artifacts or Artifacts()).get(
        (board.arch, name), lambda: run_plan(executor, planned, build)
    )
    folder = build / "boards" / board.name / name
    deadline = benchmark_deadline(job.measure)
    runs = run_files(out, job.measure.repeats)
    done: dict[Path, ExecutionRecord] = {}
    failure: tuple[Path, Path, ExecutionError] | None = None
    serving = board.serve(
        planned.runtime, planned.suffix, folder, planned.runtime_flags, artifact=planned.artifact
    )
    with serving as endpoint:
        for number, target in enumerate(runs, 1):
            if resume and is_complete(target):
                continue  # a finished run of an earlier attempt stays as it is
            extra = ["--resume"] if resume and target.is_file() else []
            extra += job.measure.to_argv()
            tester_log = step_log(
                build, f"{name}-{board.name}-benchmark" + (f"-{number}" if number > 1 else "")
            )
            try:
                # a farm board lost mid-run stops the benchmark at once (it keeps its samples)
                executor = LocalExecutor(cancel=getattr(board, "lost", None))
                done[target] = planned.tester_step(target, endpoint, extra).run(
                    executor, log=tester_log, timeout=deadline
                )
            except ExecutionError as exc:  # raised once the board is stopped, its log fetched
                failure = (target, tester_log, exc)
                break
    if failure is not None:
        target, tester_log, error = failure
        kept = _attach_partial(target, before, records, board, job, planned)
        server_log = folder / "server.log"
        tail = server_log.read_text(errors="replace").splitlines() if server_log.is_file() else []
        why = error.stderr_tail[-1] if error.stderr_tail else f"exit {error.exit_code}"
        if isinstance(error, ExecutionTimeoutError):
            why = f"no exit status within {error.timeout_s:g} s, stopped; see {tester_log}"
        if isinstance(error, ExecutionCancelledError):
            why = f"stopped at once: {error.reason}"
        raise BoardError(
            board.name,
            f"benchmarking {name}",
            f"inference_tester failed ({why}); {kept} completed samples kept in {target}; "
            "continue with `invoke bench --resume`",
            tail[-5:],
        ) from error
    for number, target in enumerate(runs, 1):
        if target not in done:
            continue
        agreement = (
            outputs_agreement(
                target,
                reference,
                job.model_of(name).outputs,
                precision=planned.precision,
                top1=job.scenario.agreement,
            )
            if reference
            else None
        )
        if agreement is not None and not agreement.agrees and number == 1:
            log.warning(
                "%s on %s: outputs DISAGREE with model %s's reference run (%s, %d samples): %s",
                name,
                board.name,
                job.model_of(name).name,
                agreement.precision,
                agreement.samples,
                "; ".join(agreement.reasons),
            )
        attach(
            target,
            {**(before or {}), **records, "benchmark": done[target]},
            {**_extra(board, job, planned), **run_links(runs, number)},
            agreement,
        )
    return out


def benchmark_deadline(measure: MeasureSettings) -> float:
    """Seconds one run of the benchmark step may take: its length, its inferences, a fixed part."""
    inferences = measure.warmup + measure.required(0, 1)[1]
    return (
        BENCHMARK_BASE_S
        + measure.warmup_s
        + measure.min_duration_s
        + inferences * BENCHMARK_SAMPLE_S
    )


def outputs_agreement(
    results: Path,
    reference: Path,
    rules: Mapping[str, OutputRule],
    *,
    precision: str = "float32",
    top1: float = TOP1_TOLERANCE,
) -> Agreement | None:
    """How a run's captured outputs agree with its reference's (None: either has none).

    Outputs that cannot be compared (another number of outputs, other sizes) disagree, with
    the reason; they are never taken to agree. A disagreeing run whose inputs reached beyond
    what its quantisation was calibrated on gets that as its likely cause.
    """
    mine, theirs = outputs_path(results), outputs_path(reference)
    if not (mine.is_file() and theirs.is_file()):
        return None
    try:
        source = load_results(reference)
        task = source.dataset.task
        agreement = compare_outputs(
            mine, theirs, rules, precision=precision, task=task, top1=top1, label=str(reference)
        )
        if task == "detection" and agreement.outputs:
            rule = rules.get(agreement.outputs[0].name) or rules.get("0") or OutputRule()
            boxes = compare_boxes(
                load_results(results).detections_by_index(),
                source.detections_by_index(),
                precision,
                rule.box_matched,
                rule.box_iou,
            )
            agreement = with_boxes(agreement, boxes)
        if not agreement.agrees:
            calibration = load_results(results).provenance.get("calibration") or {}
            agreement.reasons += [f"likely cause: {m}" for m in calibration.get("mismatch", [])]
        return agreement
    except KenningError as exc:
        return Agreement(
            reference=str(reference),
            samples=0,
            precision=precision,
            agrees=False,
            reasons=[str(exc)],
        )


def _extra(board: Board, job: Job, planned: DeploymentPlan) -> dict[str, Any]:
    deployment = job.scenario.deployments[planned.deployment]
    return {
        "board": board.name,
        "artifact": planned.deployment,
        "deployment": planned.deployment,
        "model": deployment.model,
        "scenario": job.scenario.name,
        "chain": [step.compiler for step in deployment.chain],
        "server": {
            **board.describe(),
            "runtime": planned.runtime,
            "runtime_args": planned.runtime_flags,
            "model_suffix": planned.suffix,
        },
    }


def _attach_partial(
    out: Path,
    before: Mapping[str, ExecutionRecord] | None,
    records: Mapping[str, ExecutionRecord],
    board: Board,
    job: Job,
    planned: DeploymentPlan,
) -> int:
    """Add provenance to a partial results file; return how many samples it keeps."""
    if not out.is_file():
        return 0
    try:
        attach(out, {**(before or {}), **records}, _extra(board, job, planned))
        return len(load_results(out).samples)
    except KenningError as exc:  # the results file itself is unreadable: leave it as it is
        log.warning("could not add provenance to %s: %s", out, exc)
        return 0

"""Train a scenario's models and run each in its own framework: the reference point.

Training runs ``model_training`` in the model framework's image; the reference runs
``inference_performance`` there too, on the same data, in the same seeded order as every
deployment, and captures the outputs each deployment's are compared with
(:mod:`kenning.core.agreement`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kenning.core.recorder import outputs_path
from kenning.core.results import load_results
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.run.bench import attach
from kenning.toolchain.run.console import step_log
from kenning.toolchain.run.job import Job
from kenning.toolchain.run.repeats import is_complete, run_files, run_links
from kenning.toolchain.scenario.chains import SourceModel
from kenning.utils.errors import KenningError
from kenning.utils.provenance import sha256_file


def train_models(executor: Executor, job: Job, build: Path) -> dict[str, ExecutionRecord]:
    """Train every model of the scenario that has ``train:``; return each step's record."""
    records = {}
    for name in job.models:
        step = job.model_plan(name, build).train_step(build)
        if step is not None:
            records[name] = step.run(executor, log=step_log(build, f"{name}-train"))
    return records


def reference_path(build: Path, model: SourceModel) -> Path:
    """Where the reference run of ``model`` goes."""
    return build / "results" / "framework" / f"{model.name}.json"


def current_reference(job: Job, model: SourceModel, build: Path) -> Path | None:
    """An earlier reference run still valid for ``model`` (same model file, data, settings).

    Its outputs are what deployments are compared with, so it is re-used only when nothing
    it depends on changed; None when it must run again.
    """
    out = reference_path(build, model)
    if not (out.is_file() and outputs_path(out).is_file()):
        return None
    try:
        earlier = load_results(out)
    except KenningError:
        return None
    dataset = job.model_plan(model.name, build).dataset
    same = (
        earlier.status == "complete"
        and earlier.model.sha256 == sha256_file(model.path(build))
        and earlier.measure is not None  # one run records repeats=1: compare the rest
        and earlier.measure.model_copy(update={"repeats": job.measure.repeats}) == job.measure
        and earlier.provenance.get("dataset") == dataset
        and all(is_complete(p) for p in run_files(out, job.measure.repeats))
    )
    return out if same else None


def run_reference(
    executor: Executor,
    job: Job,
    model: SourceModel,
    build: Path,
    before: Mapping[str, ExecutionRecord] | None = None,
) -> Path:
    """Run ``model`` in its framework (its image when the executor is Docker).

    Raises
    ------
    KenningError
        If the run fails.
    """
    out = reference_path(build, model)
    out.parent.mkdir(parents=True, exist_ok=True)
    planned = job.model_plan(model.name, build)
    runs = run_files(out, job.measure.repeats)
    for number, target in enumerate(runs, 1):
        record = planned.reference_step(target, job.measure).run(
            executor,
            log=step_log(build, f"{model.name}-reference" + (f"-{number}" if number > 1 else "")),
        )
        attach(
            target,
            {**(before or {}), "benchmark": record},
            {
                "board": "host",
                "artifact": f"{model.name} (framework)",
                "model": model.name,
                "deployment": "reference",
                "scenario": job.scenario.name,
                "dataset": planned.dataset,
                **run_links(runs, number),
            },
        )
    return out


def with_epochs(job: Job, epochs: int) -> Job:
    """``job`` with every trained model trained for ``epochs`` (0: as the scenario says)."""
    if epochs <= 0:
        return job
    from dataclasses import replace

    models = {
        name: replace(model, train=model.train.model_copy(update={"epochs": epochs}))
        if model.train is not None
        else model
        for name, model in job.models.items()
    }
    return replace(job, models=models)

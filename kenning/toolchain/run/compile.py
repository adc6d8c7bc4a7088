"""Compile a deployment: stage the model, run its plan's steps, keep their records.

The steps themselves (one per compiler of the chain, each in its image) are made by
:mod:`kenning.toolchain.run.plan`. An empty chain deploys the model file as it is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from kenning.core.iospec import IOSpec
from kenning.core.results import write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.run.console import step_log
from kenning.toolchain.run.plan import DeploymentPlan
from kenning.toolchain.scenario.chains import SourceModel
from kenning.utils.errors import ModelError


def stage_model(model: SourceModel, build: Path) -> Path:
    """Copy a user's model file (and its ``.iospec.json``) to ``build/models/``.

    The steps read it there: a container sees the working folder, not the user's. An ONNX
    model whose weights are in external data files (``model.onnx.data``, as
    ``torch.onnx.export(dynamo=True)`` writes them) is staged as one self-contained file, so
    every step, container and board gets its weights with it.

    Raises
    ------
    ModelError
        If the file is missing.
    """
    target = model.path(build)
    if model.origin is None:
        return target
    if not model.origin.is_file():
        raise ModelError(f"model file {model.origin} does not exist", model.origin)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not same_file(model.origin, target):
        if model.format == "onnx" and _has_external_data(model.origin):
            from kenning.frameworks.onnx import inline_external_data

            inline_external_data(model.origin, target)
        else:
            shutil.copyfile(model.origin, target)
        spec = IOSpec.path_for(model.origin)
        if spec.is_file():
            shutil.copyfile(spec, IOSpec.path_for(target))
    return target


def _has_external_data(path: Path) -> bool:
    from kenning.frameworks.onnx import external_data_files

    return bool(external_data_files(path))


def provenance_path(artifact: Path) -> Path:
    """Where the records of the steps that built ``artifact`` are kept."""
    return artifact.with_name(artifact.name + ".provenance.json")


def run_plan(
    executor: Executor, planned: DeploymentPlan, build: Path
) -> tuple[Path, dict[str, ExecutionRecord]]:
    """Run the compile steps; write ``<artifact>.provenance.json`` beside the artifact.

    Returns
    -------
    tuple of Path and dict
        The artifact, and the record of each step by step name.

    Raises
    ------
    ModelError
        If the model is missing (train it first).
    ExecutorError
        If a step fails (its image, command, exit code and stderr tail are in the error).
    """
    source = stage_model(planned.model.model, build)
    if not source.is_file():
        raise ModelError(
            f"{source} is missing: run `invoke train` (or `invoke demo`) first", source
        )
    planned.artifact.parent.mkdir(parents=True, exist_ok=True)
    records = {
        step.name: step.run(executor, log=step_log(build, f"{planned.deployment}-{step.name}"))
        for step in planned.steps
    }
    if records:
        text = json.dumps([r.model_dump(mode="json") for r in records.values()], indent=1)
        write_atomically(provenance_path(planned.artifact), text)
    return planned.artifact, records


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False

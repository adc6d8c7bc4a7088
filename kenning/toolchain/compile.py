"""Compile a scenario's deployment in the pinned images, each step where its framework is.

A deployment's chain becomes one step per compiler: ``onnx`` on a framework model is the
*export* and runs in the model framework's image (a training image); every other compiler
runs in its compile image (:data:`kenning.toolchain.chains.COMPILER_IMAGES`) on the file
the step before it wrote. An empty chain deploys the model file as it is.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from kenning.core.formats import FORMATS
from kenning.core.iospec import IOSpec
from kenning.core.registry import load_class
from kenning.core.results import write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.chains import (
    COMPILER_IMAGES,
    FRAMEWORK_IMAGES,
    SourceModel,
    artifact_suffix,
    dataset_argv,
    flags,
    same_file,
    step_format,
    target_parameters,
)
from kenning.toolchain.console import step_log
from kenning.toolchain.scenario import Scenario
from kenning.toolchain.steps import Step, paths, python
from kenning.utils.errors import ModelError


@dataclass(frozen=True)
class Plan:
    """The steps that build one deployment for one architecture, and what they write."""

    deployment: str
    steps: list[Step]
    artifact: Path
    format: str


def plan(
    scenario: Scenario, models: dict[str, SourceModel], name: str, build: Path, arch: str
) -> Plan:
    """The steps building deployment ``name`` for ``arch`` (``amd64``, ``arm64``).

    The model is read from ``build/models/`` (see :func:`stage_model`); artifacts go to
    ``build/compiled/NAME-ARCH.SUFFIX`` (intermediate ones ``NAME-ARCH.N.SUFFIX``).
    """
    deployment = scenario.deployments[name]
    model = models[str(deployment.model)]
    current = source = model.path(build)
    wrapper, framework, wrapper_flags = model.wrapper, model.framework, flags(model.parameters)
    fmt = model.format
    steps: list[Step] = []
    for number, item in enumerate(deployment.chain, start=1):
        fmt = step_format(item.compiler)
        last = number == len(deployment.chain)
        stem = f"{name}-{arch}" if last else f"{name}-{arch}.{number}"
        out = build / "compiled" / f"{stem}{artifact_suffix(fmt)}"
        export = item.compiler == "onnx"
        image = FRAMEWORK_IMAGES.get(framework, "") if export else COMPILER_IMAGES.get(
            item.compiler, "")  # fmt: skip
        compiles = sum(1 for s in steps if s.name.startswith("compile"))
        step_name = ("export" if export and number == 1 else
                     "compile" if not compiles else f"compile-{compiles + 1}")  # fmt: skip
        parameters = target_parameters(item.compiler, item.parameters, arch)
        command = python(
            "kenning.scenarios.model_compilation", wrapper, item.compiler,
            *dataset_argv(scenario, current), "--model-path", str(current),
            "--compiled-model-path", str(out), *wrapper_flags, *flags(parameters),
        )  # fmt: skip
        steps.append(Step(step_name, image, command, inputs=paths(current), outputs=paths(out)))
        current, wrapper_flags = out, []
        if fmt in FORMATS and FORMATS[fmt].wrapper:  # the next step reads this file
            wrapper = FORMATS[fmt].wrapper
            framework = load_class(wrapper, "modelwrapper").framework
    return Plan(name, steps, current if steps else source, fmt)


def stage_model(model: SourceModel, build: Path) -> Path:
    """Copy a user's model file (and its ``.iospec.json``) to ``build/models/``.

    The steps read it there: a container sees the working folder, not the user's.

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
        shutil.copyfile(model.origin, target)
        spec = IOSpec.path_for(model.origin)
        if spec.is_file():
            shutil.copyfile(spec, IOSpec.path_for(target))
    return target


def provenance_path(artifact: Path) -> Path:
    """Where the records of the steps that built ``artifact`` are kept."""
    return artifact.with_name(artifact.name + ".provenance.json")


def run_plan(executor: Executor, planned: Plan, model: SourceModel,
             build: Path) -> tuple[Path, dict[str, ExecutionRecord]]:  # fmt: skip
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
    source = stage_model(model, build)
    if not source.is_file():
        raise ModelError(f"{source} is missing: run `invoke train` (or `invoke demo`) first",
                         source)  # fmt: skip
    planned.artifact.parent.mkdir(parents=True, exist_ok=True)
    records = {
        step.name: step.run(executor, log=step_log(build, f"{planned.deployment}-{step.name}"))
        for step in planned.steps
    }
    if records:
        write_atomically(provenance_path(planned.artifact), json.dumps(
            [r.model_dump(mode="json") for r in records.values()], indent=1))  # fmt: skip
    return planned.artifact, records

"""A checked scenario with its resolved models, and the plans made of them, once each.

Every part of a run (training, compiling, benching, the task that only prints the steps)
asks a :class:`Job` for a model's or a deployment's plan (:mod:`kenning.toolchain.run.plan`),
so they all read the same steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kenning.core.formats import FORMATS
from kenning.core.measure import MeasureSettings
from kenning.core.registry import load_class
from kenning.toolchain.run.argv import (
    artifact_suffix,
    dataset_argv,
    dataset_inputs,
    flags,
    step_format,
    target_parameters,
)
from kenning.toolchain.run.plan import DeploymentPlan, ModelPlan
from kenning.toolchain.run.steps import Step, paths, python
from kenning.toolchain.scenario.chains import (
    COMPILER_IMAGES,
    FRAMEWORK_IMAGES,
    SourceModel,
    calibration_handover,
    chain_precision,
)
from kenning.toolchain.scenario.schema import Scenario
from kenning.utils.errors import ConfigurationError, KenningError, ModelError


@dataclass
class Job:
    """A checked scenario, its resolved models, how to measure, and the plans made of them.

    Plans are made once per build folder (and architecture) and kept: every part of a run
    reads the same steps.
    """

    scenario: Scenario
    models: dict[str, SourceModel]
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    _plans: dict[tuple[Any, ...], Any] = field(default_factory=dict, init=False, repr=False)

    def model_of(self, deployment: str) -> SourceModel:
        """The model deployment ``deployment`` deploys."""
        return self.models[str(self.scenario.deployments[deployment].model)]

    def as_given(self, error: KenningError, name: str, build: Path) -> KenningError:
        """``error`` naming model ``name``'s file as the user gave it, not its staged copy.

        Steps read the copy in ``build/models/``; a person knows their own file and the
        scenario line that names it, so an error about the copy names those instead.
        """
        model = self.models[name]
        if model.origin is None:
            return error
        staged = model.path(build)
        copies = sorted({str(staged), str(staged.absolute()), str(staged.resolve())}, key=len)
        key = ("model", "file") if self.scenario.has("model") else ("models", name, "file")
        where = f"{model.origin} ({self.scenario.where(*key)}, key '{'.'.join(key)}')"
        seen: list[str] = []

        def named(_: re.Match[str]) -> str:  # the first mention says where; the others, what
            seen.append(where)
            return where if len(seen) == 1 else str(model.origin)

        text = re.sub("|".join(re.escape(c) for c in reversed(copies)), named, str(error))
        if text == str(error):
            return error
        given = ConfigurationError(text) if isinstance(error, ConfigurationError) else None
        return given or ModelError(text, model.origin)

    def model_plan(self, name: str, build: Path) -> ModelPlan:
        """Model ``name``'s plan in ``build``."""
        key = ("model", name, build)
        if key not in self._plans:
            model = self.models[name]
            source = model.path(build)
            self._plans[key] = ModelPlan(
                model, source, dataset_argv(self.scenario, source), dataset_inputs(self.scenario)
            )
        plan: ModelPlan = self._plans[key]
        return plan

    def plan(self, name: str, build: Path, arch: str) -> DeploymentPlan:
        """Deployment ``name``'s plan for ``arch`` in ``build``.

        The model is read from ``build/models/``; artifacts go to
        ``build/compiled/NAME-ARCH.SUFFIX`` (intermediate ones ``NAME-ARCH.N.SUFFIX``).
        """
        key = ("deployment", name, build, arch)
        if key not in self._plans:
            self._plans[key] = self._plan(name, build, arch)
        plan: DeploymentPlan = self._plans[key]
        return plan

    def _plan(self, name: str, build: Path, arch: str) -> DeploymentPlan:
        deployment = self.scenario.deployments[name]
        model = self.model_plan(str(deployment.model), build)
        current = model.source
        wrapper, framework = model.model.wrapper, model.model.framework
        wrapper_flags, fmt = model.wrapper_flags, model.model.format
        steps: list[Step] = []
        calibration = calibration_handover(deployment.chain, build / "compiled" / f"{name}-{arch}")
        for number, item in enumerate(deployment.chain, start=1):
            fmt = step_format(item.compiler)
            stem = (
                f"{name}-{arch}" if number == len(deployment.chain) else f"{name}-{arch}.{number}"
            )
            out = build / "compiled" / f"{stem}{artifact_suffix(fmt)}"
            export = item.compiler == "onnx"
            if export:
                image = FRAMEWORK_IMAGES.get(framework, "")
            else:
                image = COMPILER_IMAGES.get(item.compiler, "")
            compiles = sum(1 for s in steps if s.name.startswith("compile"))
            if export and number == 1:
                step_name = "export"
            else:
                step_name = "compile" if not compiles else f"compile-{compiles + 1}"
            parameters = target_parameters(item.compiler, item.parameters, arch)
            # a step on an intermediate file reads it with its own format's dataset shape
            dataset = dataset_argv(self.scenario, current) if steps else model.dataset
            command = python(
                "kenning.scenarios.model_compilation",
                wrapper,
                item.compiler,
                *dataset,
                "--model-path",
                str(current),
                "--compiled-model-path",
                str(out),
                *wrapper_flags,
                *flags(parameters),
            )
            reads, writes = paths(current, *model.data), paths(out)
            if calibration is not None and number == 1:  # the source model's preprocessing
                command += ["--write-calibration", str(calibration[0])]
                command += ["--write-calibration-samples", str(calibration[1])]
                writes.append(str(calibration[0]))
            elif calibration is not None and number in calibration[2]:
                command += ["--calibration-data", str(calibration[0])]
                reads.append(str(calibration[0]))
            steps.append(Step(step_name, image, command, inputs=reads, outputs=writes))
            current, wrapper_flags = out, []
            if fmt in FORMATS and FORMATS[fmt].wrapper:  # the next step reads this file
                wrapper = FORMATS[fmt].wrapper
                framework = load_class(wrapper, "modelwrapper").framework
        runtime = deployment.runtime
        return DeploymentPlan(
            deployment=name,
            arch=arch,
            model=model,
            steps=steps,
            artifact=current,
            format=fmt,
            runtime=runtime.runtime,
            runtime_flags=flags(runtime.parameters),
            precision=chain_precision(deployment.chain),
        )

"""A scenario's work as data, made once: each model's steps and each deployment's, per board.

A checked scenario (:class:`Job`) is turned into commands in this one place. For each model
a :class:`ModelPlan` holds its file in the build folder, the dataset arguments every step on
it shares, and its training and reference steps; for each deployment and architecture a
:class:`DeploymentPlan` holds the compile steps (an ``onnx`` first step on a framework model is
the *export*, in the framework's image; every other compiler runs in its compile image on the
file the step before wrote), the artifact they write, the runtime that serves it, and the
``inference_tester`` step that benchmarks it. Training, compiling, benching and the task
that only prints the steps all read these plans; ``invoke reproduce`` re-runs the records
the steps leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kenning.boards.base import Endpoint
from kenning.core.measure import MeasureSettings
from kenning.toolchain.run.argv import (
    artifact_suffix,
    flags,
)
from kenning.toolchain.run.steps import Step, paths, python
from kenning.toolchain.scenario.chains import (
    SourceModel,
)


@dataclass(frozen=True)
class ModelPlan:
    """One model's place in the build folder and the steps that train and run it as it is.

    Attributes
    ----------
    model : SourceModel
        The resolved model.
    source : Path
        Where the toolchain keeps it: ``build/models/NAME.SUFFIX``.
    dataset : list of str
        The dataset class and its flags, shared by every step on this model.
    data : list of str
        The files the dataset reads (inputs of every step that reads the dataset).
    """

    model: SourceModel
    source: Path
    dataset: list[str]
    data: list[str] = field(default_factory=list)

    @property
    def wrapper_flags(self) -> list[str]:
        """The model wrapper's flags from the scenario (with the output it scores)."""
        scored = next((k for k, rule in self.model.outputs.items() if rule.scored), None)
        return flags({**self.model.parameters, "scored-output": scored})

    def train_step(self, build: Path) -> Step | None:
        """``model_training`` in the framework's image (None: the model is the user's file)."""
        model = self.model
        if model.train is None:
            return None
        logs = build / "logs" / model.name
        settings = {
            "num-epochs": model.train.epochs,
            "batch-size": model.train.batch_size,
            "learning-rate": model.train.learning_rate,
        }
        command = python(
            "kenning.scenarios.model_training",
            model.wrapper,
            self.dataset[0],
            "--model-path",
            str(self.source),
            "--logdir",
            str(logs),
            *flags(settings),
            *self.wrapper_flags,
            *self.dataset[1:],
        )
        return Step(
            "train", model.image, command, inputs=list(self.data), outputs=paths(self.source, logs)
        )

    def reference_step(self, out: Path, measure: MeasureSettings) -> Step:
        """``inference_performance`` of the model in its framework, writing ``out``."""
        command = python(
            "kenning.scenarios.inference_performance",
            self.model.wrapper,
            self.dataset[0],
            str(out),
            "--model-path",
            str(self.source),
            *self.wrapper_flags,
            *self.dataset[1:],
            *measure.to_argv(),
        )
        return Step(
            "benchmark",
            self.model.image,
            command,
            inputs=paths(self.source, *self.data),
            outputs=paths(out),
        )


@dataclass(frozen=True)
class DeploymentPlan:
    """The steps that build one deployment for one architecture, and how it is served.

    Attributes
    ----------
    deployment : str
        Its name in the scenario.
    arch : str
        The board architecture it is built for (``amd64``, ``arm64``).
    model : ModelPlan
        The model it deploys.
    steps : list of Step
        The compile steps, in order (none: the model file is deployed as it is).
    artifact : Path
        What the last step writes (the model file when there are no steps).
    format : str
        The artifact's format.
    runtime : str
        The runtime that serves it on the board.
    runtime_flags : list of str
        That runtime's flags from the scenario.
    precision : str
        What the artifact computes in (the least precise step's): picks agreement's
        default tolerances.
    """

    deployment: str
    arch: str
    model: ModelPlan
    steps: list[Step]
    artifact: Path
    format: str
    runtime: str
    runtime_flags: list[str]
    precision: str = "float32"

    @property
    def suffix(self) -> str:
        """The artifact's suffix without its dot, as the server saves the model it receives."""
        return artifact_suffix(self.format).lstrip(".")

    def tester_step(self, out: Path, endpoint: Endpoint, extra: Sequence[str] = ()) -> Step:
        """The ``inference_tester`` step that benchmarks the artifact on a server.

        The server's address and the run's secret file are parameters (``{host}``,
        ``{port}``, ``{secret_file}``): a re-run fills in those of the server it starts.
        """
        model = self.model
        template = [
            *python(
                "kenning.scenarios.inference_tester",
                model.model.wrapper,
                "precompiled",
                self.runtime,
                model.dataset[0],
                str(out),
            ),
            *_protocol_template(endpoint),
            "--model-path",
            str(model.source),
            "--compiled-model-path",
            str(self.artifact),
            *model.wrapper_flags,
            *model.dataset[1:],
            *extra,
        ]
        parameters = endpoint.protocol_args()
        if endpoint.secret_file is not None:
            template += ["--secret-file", "{secret_file}"]
            parameters["secret_file"] = str(endpoint.secret_file)
        return Step(
            "benchmark",
            "",
            template,
            parameters,
            inputs=paths(model.source, self.artifact, *model.data),
            outputs=paths(out),
        )


def _protocol_template(endpoint: Endpoint) -> list[str]:
    """The tester's protocol flags with the endpoint's values as placeholders."""
    if endpoint.serial is not None:
        return ["--protocol-cls", "{protocol}", "--port", "{port}", "--baudrate", "{baud}"]
    return ["--protocol-cls", "{protocol}", "--host", "{host}", "--port", "{port}"]

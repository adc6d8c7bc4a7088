"""A scenario file: the model, the data, the deployments, the boards and the measurement.

The toolchain knows no model: everything it runs is said here (YAML, or JSON). A model is
a ModelWrapper with parameters (trained by the toolchain when it has ``train:``), or just a
file whose inputs and outputs are read from it. Each deployment is a chain of compilers
with their parameters and a runtime; :mod:`kenning.toolchain.scenario.chains` checks every chain
before anything runs. See ``scenarios/*.yaml`` and docs/scenarios.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from kenning.core.agreement import TOP1_TOLERANCE, OutputRule

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Training(_Strict):
    """How the toolchain trains a model (in its framework's image)."""

    epochs: int = Field(10, strict=True, ge=1)
    batch_size: int | None = Field(None, strict=True, ge=1, alias="batch-size")
    learning_rate: float | None = Field(None, strict=True, gt=0, alias="learning-rate")


class ModelSource(_Strict):
    """The model: a wrapper (trained here or loaded from ``file``), or a file alone."""

    wrapper: str | None = None
    file: str | None = None
    parameters: dict[str, Scalar] = {}
    train: Training | None = None
    outputs: dict[str, OutputRule] = Field(
        {}, description="by output name (or position): its task, tolerances, `scored: true`"
    )

    @property
    def scored_output(self) -> str | None:
        """The output named ``scored: true`` (None: the first output is scored)."""
        return next((name for name, rule in self.outputs.items() if rule.scored), None)

    @model_validator(mode="after")
    def _one_way(self) -> ModelSource:
        scored = [name for name, rule in self.outputs.items() if rule.scored]
        if len(scored) > 1:
            raise ValueError(f"only one output can be `scored: true`; got {', '.join(scored)}")
        if self.wrapper is None and self.file is None:
            raise ValueError("needs `file:` (a model file) or `wrapper:` (a ModelWrapper)")
        if self.train is not None and self.wrapper is None:
            raise ValueError("`train:` needs `wrapper:` (the class that builds the network)")
        if self.train is not None and self.file is not None:
            raise ValueError("give `file:` (a trained model) or `train:`, not both")
        if self.wrapper is not None and self.file is None and self.train is None:
            raise ValueError("a `wrapper:` needs `file:` (the trained model) or `train:`")
        return self


class Preprocessing(_Strict):
    """How a folder's inputs become model inputs."""

    resize: list[StrictInt] | None = Field(None, min_length=2, max_length=2)
    scale: float = Field(1.0, strict=True)
    mean: list[StrictFloat] | None = None
    std: list[StrictFloat] | None = None
    layout: str = Field("NHWC", pattern="^(NHWC|NCHW)$")

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be 0")
        return value


class Synthetic(_Strict):
    """Seeded random inputs from the model's I/O specification."""

    samples: int = Field(256, strict=True, ge=1)
    seed: int = Field(0, strict=True, ge=0)


class DatasetSource(_Strict):
    """The data: a Dataset class, a folder, or synthetic inputs."""

    cls: str | None = Field(None, alias="class")
    parameters: dict[str, Scalar] = {}
    folder: str | None = None
    labels: dict[str, int] | None = Field(
        None, description="class folders: the model's class index of each folder"
    )
    preprocessing: Preprocessing = Preprocessing()
    synthetic: Synthetic | None = None

    @model_validator(mode="after")
    def _one_way(self) -> DatasetSource:
        given = [
            k
            for k in ("class", "folder", "synthetic")
            if getattr(self, {"class": "cls"}.get(k, k)) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"needs exactly one of `class:`, `folder:`, `synthetic:`; got "
                f"{', '.join(given) or 'none'}"
            )
        if self.labels is not None and self.folder is None:
            raise ValueError("`labels:` maps class folders: it needs `folder:`")
        if self.labels is not None and any(v < 0 for v in self.labels.values()):
            raise ValueError("`labels:` indices must be 0 or more")
        return self


class ChainStep(_Strict):
    """One compiler of a chain, with its parameters (its flags without ``--``)."""

    compiler: str
    parameters: dict[str, Scalar] = {}


def _named(value: Any, what: str) -> dict[str, Any]:
    """``name`` or ``{name: {parameters}}`` as a dict with the name and its parameters."""
    if isinstance(value, str):
        return {what: value}
    if isinstance(value, dict) and len(value) == 1:
        name, parameters = next(iter(value.items()))
        return {what: name, "parameters": parameters or {}}
    return value  # pydantic words the error


class RuntimeChoice(_Strict):
    """The runtime a deployment runs in, with its parameters."""

    runtime: str
    parameters: dict[str, Scalar] = {}


class Deployment(_Strict):
    """One way to deploy the model: compilers in order, then a runtime."""

    model: str | None = Field(None, description="which model, when the scenario has several")
    chain: list[ChainStep] = []
    runtime: RuntimeChoice
    board_kind: Literal["mcu"] | None = Field(
        None,
        alias="board-kind",
        description="mcu: only on microcontroller boards (the others run only on Linux boards)",
    )

    @field_validator("chain", mode="before")
    @classmethod
    def _chain(cls, value: Any) -> Any:
        return [_named(item, "compiler") for item in value] if isinstance(value, list) else value

    @field_validator("runtime", mode="before")
    @classmethod
    def _runtime(cls, value: Any) -> Any:
        return _named(value, "runtime")


class Scenario(_Strict):
    """A whole scenario file."""

    name: str = Field(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = ""
    model: ModelSource | None = None
    models: dict[str, ModelSource] = {}
    dataset: DatasetSource
    deployments: dict[str, Deployment] = Field(min_length=1)
    boards: list[str] = ["local"]
    measure: dict[str, Scalar | list[float]] = {}
    reference: bool = Field(True, description="run the model in its framework on this host")
    agreement: float = Field(
        TOP1_TOLERANCE, strict=True, ge=0, le=1, description="least top-1 agreement"
    )

    #: the folder paths in the file are relative to, and where each key is (the loader's)
    _base: Path = PrivateAttr(default_factory=lambda: Path("."))
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)
    _display: str = PrivateAttr("")

    @model_validator(mode="after")
    def _models(self) -> Scenario:
        if (self.model is None) == (not self.models):
            raise ValueError("needs `model:` (one model) or `models:` (named models), one of them")
        if self.model is not None:
            self.models = {self.name: self.model}
            self.model = None
        for name, deployment in self.deployments.items():
            if deployment.model is None:
                if len(self.models) > 1:
                    raise ValueError(
                        f"deployment '{name}' must say which model (`model:`), "
                        f"one of {', '.join(self.models)}"
                    )
                deployment.model = next(iter(self.models))
            elif deployment.model not in self.models:
                raise ValueError(
                    f"deployment '{name}': no model '{deployment.model}'; "
                    f"the scenario has {', '.join(self.models)}"
                )
        return self

    def path(self, relative: str) -> Path:
        """A path of the file, relative to the file's folder."""
        return (self._base / relative) if not Path(relative).is_absolute() else Path(relative)

    def has(self, *loc: str | int) -> bool:
        """Whether the file itself has the key at ``loc`` (not a default)."""
        return loc in self._lines

    def where(self, *loc: str | int) -> str:
        """``FILE:LINE`` of the longest part of ``loc`` the file has (for later checks)."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self._lines:
                return f"{self._display}:{self._lines[loc[:end]]}"
        return self._display or self.name

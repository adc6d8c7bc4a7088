"""What a scenario's names stand for, and whether each deployment's chain can work.

:func:`check_scenario` resolves every class the file names (model wrappers, the dataset,
compilers, runtimes), checks that each parameter is a flag of its class, and walks each
chain: a step must take the format the one before it writes (the first: the model's), and
the runtime the last one's. Everything found is reported at once, before any work, with
the file's line. The images each framework and compiler run in are data here too, and what
a chain's compilers tell about it: its precision (:func:`chain_precision`) and whether a later
step needs calibration inputs from the first (:func:`calibration_handover`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kenning.core.agreement import OutputRule
from kenning.core.formats import format_of_file
from kenning.core.outputcheck import PRECISIONS
from kenning.core.registry import load_class
from kenning.toolchain.scenario.load import ScenarioError
from kenning.toolchain.scenario.schema import ChainStep, ModelSource, Scenario, Training
from kenning.utils.errors import KenningError

#: the image a model framework's steps (training, ONNX export, reference) run in
FRAMEWORK_IMAGES = {
    "torch": "train-torch",
    "tensorflow": "train-tensorflow",
    "onnx": "compile-tvm",
    "tflite": "compile-tflite",
}
#: the image each compiler runs in (``onnx`` runs where the model's framework is)
COMPILER_IMAGES = {
    "onnxruntime-quant": "compile-tvm",
    "tvm": "compile-tvm",
    "tflite": "compile-tflite",
    "onnx-c": "compile-mcu",
}
#: flags the toolchain sets itself
RESERVED = {"model-path", "compiled-model-path", "save-model-path"}


@dataclass(frozen=True)
class SourceModel:
    """A model of the scenario, resolved.

    Attributes
    ----------
    name : str
        Its key in the scenario (the file's ``name`` for a single ``model:``).
    wrapper : str
        Dotted path of its ModelWrapper.
    format, framework : str
        What compilers know it as (``onnx``, ``keras``...), and the framework it runs in.
    origin : Path or None
        The user's file; None when the toolchain trains it.
    suffix : str
        The suffix it is kept under in ``build/models/``.
    parameters : mapping
        The wrapper's other flags.
    train : Training or None
        How to train it.
    exports_onnx : bool
        Whether its wrapper can write ONNX (so a chain may start with ``onnx``).
    outputs : mapping
        What the scenario says of its outputs (task, tolerances, which is scored).
    """

    name: str
    wrapper: str
    format: str
    framework: str
    origin: Path | None
    suffix: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    train: Training | None = None
    exports_onnx: bool = False
    outputs: Mapping[str, OutputRule] = field(default_factory=dict)

    def path(self, build: Path) -> Path:
        """Where the toolchain keeps it (copied or trained there): ``build/models/NAME.SUF``."""
        return build / "models" / f"{self.name}{self.suffix}"

    @property
    def image(self) -> str:
        """The image its framework's steps run in."""
        return FRAMEWORK_IMAGES.get(self.framework, "")


def resolve_model(name: str, source: ModelSource, base: Path) -> SourceModel:
    """Resolve one model entry (imports its wrapper's module, not its framework).

    Raises
    ------
    KenningError
        If the wrapper does not resolve, or the file's format has no reader.
    """
    from kenning.core.model import ModelWrapper

    origin = (base / source.file) if source.file else None
    wrapper = source.wrapper or format_of_file(origin or "").wrapper
    cls = load_class(wrapper, "modelwrapper")
    suffix = origin.suffix if origin else (cls.model_suffixes or (".model",))[0]
    return SourceModel(
        name=name,
        wrapper=f"{cls.__module__}.{cls.__name__}",
        format=cls.model_format,
        framework=cls.framework,
        origin=origin,
        suffix=suffix,
        parameters=dict(source.parameters),
        train=source.train,
        exports_onnx=cls.save_to_onnx is not ModelWrapper.save_to_onnx,
        outputs=dict(source.outputs),
    )


def _unknown_flags(cls: Any, parameters: Mapping[str, Any]) -> list[str]:
    known = {arg.flag[2:] for arg in cls.arguments()}
    return [key for key in parameters if key not in known or key in RESERVED]


def _flag_problem(cls: Any, bad: list[str]) -> str:
    known = sorted(arg.flag[2:] for arg in cls.arguments() if arg.flag[2:] not in RESERVED)
    why = " (the toolchain sets paths itself)" if set(bad) & RESERVED else ""
    return (
        f"{cls.__name__} has no parameter {', '.join(map(repr, bad))}{why}; its "
        f"parameters: {', '.join(known) or 'none'}"
    )


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeio' else 'a'} {word}"


def check_chain(scenario: Scenario, name: str, model: SourceModel) -> list[str]:
    """The problems of deployment ``name``'s chain (empty when it can work)."""
    deployment = scenario.deployments[name]
    problems: list[str] = []
    current = model.format
    for number, step in enumerate(deployment.chain, start=1):
        at = f"{scenario.where('deployments', name, 'chain', number - 1)}: deployment '{name}', "
        at += f"step {number} '{step.compiler}'"
        try:
            cls = load_class(step.compiler, "compiler")
        except KenningError as exc:
            problems.append(f"{at}: {exc}")
            return problems
        exported = number == 1 and "onnx" in cls.input_formats and model.exports_onnx
        if current not in cls.input_formats and not (exported and step.compiler == "onnx"):
            hint = (
                "; put `onnx` before it"
                if "onnx" in cls.input_formats and model.exports_onnx and current != "onnx"
                else ""
            )
            problems.append(
                f"{at}: takes {' or '.join(cls.input_formats)} models, and is "
                f"given {_a(current)} model{hint}"
            )
            return problems
        if bad := _unknown_flags(cls, step.parameters):
            problems.append(f"{at}: {_flag_problem(cls, bad)}")
        current = cls.output_format
    at = f"{scenario.where('deployments', name, 'runtime')}: deployment '{name}', runtime "
    at += f"'{deployment.runtime.runtime}'"
    try:
        runtime = load_class(deployment.runtime.runtime, "runtime")
    except KenningError as exc:
        return [*problems, f"{at}: {exc}"]
    if current not in runtime.model_formats:
        last = f"the last step writes {current}" if deployment.chain else f"the model is {current}"
        problems.append(f"{at}: loads {' or '.join(runtime.model_formats)} models; {last}")
    if bad := _unknown_flags(runtime, deployment.runtime.parameters):
        problems.append(f"{at}: {_flag_problem(runtime, bad)}")
    return problems


def check_scenario(scenario: Scenario) -> dict[str, SourceModel]:
    """Resolve the scenario's models and check everything it names, before any work.

    Returns
    -------
    dict
        Each model by name.

    Raises
    ------
    ScenarioError
        Naming every problem: unresolvable classes, unknown parameters, impossible chains,
        missing files.
    """
    problems: list[str] = []
    models: dict[str, SourceModel] = {}
    for name, source in scenario.models.items():
        loc = ("models", name) if ("models", name) in scenario._lines else ("model",)
        try:
            models[name] = model = resolve_model(name, source, scenario._base)
        except KenningError as exc:
            problems.append(f"{scenario.where(*loc)}: model '{name}': {exc}")
            continue
        if model.origin is not None and not model.origin.is_file():
            problems.append(
                f"{scenario.where(*loc, 'file')}: model '{name}': {model.origin} does not exist"
            )
        cls = load_class(model.wrapper, "modelwrapper")
        if bad := _unknown_flags(cls, model.parameters):
            problems.append(f"{scenario.where(*loc, 'parameters')}: {_flag_problem(cls, bad)}")
    data = scenario.dataset
    if data.cls is not None:
        try:
            cls = load_class(data.cls, "dataset")
            if bad := _unknown_flags(cls, data.parameters):
                problems.append(
                    f"{scenario.where('dataset', 'parameters')}: {_flag_problem(cls, bad)}"
                )
        except KenningError as exc:
            problems.append(f"{scenario.where('dataset', 'class')}: {exc}")
    elif data.folder is not None and not scenario.path(data.folder).is_dir():
        problems.append(
            f"{scenario.where('dataset', 'folder')}: dataset folder "
            f"{scenario.path(data.folder)} does not exist"
        )
    for name, deployment in scenario.deployments.items():
        if deployment.model in models:
            problems += check_chain(scenario, name, models[deployment.model])
    if problems:
        raise ScenarioError("\n".join(problems))
    return models


def calibration_handover(
    chain: Sequence[ChainStep], stem: Path
) -> tuple[Path, int, set[int]] | None:
    """Where the first step writes calibration inputs, how many, and which steps read them.

    A step after the first that calibrates (an int8 quantiser on the exported file) cannot
    run the source model's preprocessing: it reads what the first step wrote with it.
    """
    readers: dict[int, int] = {}
    for number, step in enumerate(chain, start=1):
        cls = load_class(step.compiler, "compiler")
        if number > 1 and cls.calibrates_with(step.parameters):
            readers[number] = int(step.parameters.get("calibration-samples", 200))
    if not readers:
        return None
    return stem.with_name(stem.name + ".calibration.npz"), max(readers.values()), set(readers)


def chain_precision(chain: Sequence[ChainStep]) -> str:
    """The least precise of the chain's steps (``float32`` for an empty chain)."""
    steps = [load_class(s.compiler, "compiler").precision_for(s.parameters) for s in chain]
    return max(steps, key=PRECISIONS.index, default="float32")

"""How a scenario's values become command-line words: flags, the dataset, a compiler's target.

:mod:`kenning.toolchain.run.plan` builds every step's command from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kenning.boards.mcuentry import arch_machine
from kenning.core.formats import FORMATS
from kenning.core.registry import load_class
from kenning.toolchain.scenario.schema import Scenario

#: a compiler's ``target`` for a board architecture, when the chain does not give one
ARCH_TARGETS = {"tvm": {"amd64": "llvm", "arm64": "aarch64"}}
#: compilers whose ``target`` is a microcontroller board's machine (``--target mps2-an386``)
MCU_COMPILERS = ("onnx-c",)


def dataset_argv(scenario: Scenario, model_file: Path) -> list[str]:
    """The dataset class and its flags for a step on ``model_file`` (synthetic inputs' shape).

    Paths become relative to the working folder when they are inside it (a container sees
    the working folder at the same path).
    """
    data = scenario.dataset
    if data.cls is not None:
        cls = load_class(data.cls, "dataset")
        return [f"{cls.__module__}.{cls.__name__}", *flags(data.parameters)]
    if data.synthetic is not None:
        return [
            "kenning.datasets.synthetic.SyntheticDataset",
            "--model-file",
            str(model_file),
            "--samples",
            str(data.synthetic.samples),
            "--data-seed",
            str(data.synthetic.seed),
        ]
    assert data.folder is not None
    prep: dict[str, Any] = data.preprocessing.model_dump(exclude_none=True)
    if data.labels:
        prep["class-indices"] = ",".join(f"{k}={v}" for k, v in data.labels.items())
    return [
        "kenning.datasets.folder.FolderDataset",
        "--dataset-root",
        _relative(scenario.path(data.folder)),
        *flags(prep),
    ]


def dataset_inputs(scenario: Scenario) -> list[str]:
    """The files the dataset reads, as its steps name them (a step's recorded inputs).

    A folder (or ``inputs.npy`` file) of the scenario, or a Dataset class's ``dataset-root``
    parameter: recorded with their hashes, copied by ``invoke reproduce`` into its workspace.
    """
    data = scenario.dataset
    if data.folder is not None:
        return [_relative(scenario.path(data.folder))]
    root = data.parameters.get("dataset-root") if data.cls is not None else None
    return [str(root)] if root else []


def _relative(path: Path) -> str:
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def flags(parameters: Mapping[str, Any]) -> list[str]:
    """``{key: value}`` as ``--key value`` words (True: the bare flag; a list: comma-joined)."""
    words: list[str] = []
    for key, value in parameters.items():
        if value is False or value is None:
            continue
        words.append(f"--{key}")
        if value is not True:
            words.append(",".join(map(str, value)) if isinstance(value, list) else str(value))
    return words


def target_parameters(compiler: str, parameters: Mapping[str, Any], arch: str) -> dict[str, Any]:
    """A step's parameters with the board architecture's target when the file gives none.

    A microcontroller's architecture (``mcu-MACHINE``) is the target of the compilers that
    build its firmware (:data:`MCU_COMPILERS`): they refuse a model too big for the machine
    and build ``firmware.elf`` into the artifact.
    """
    chosen = dict(parameters)
    machine = arch_machine(arch)
    if "target" not in chosen and machine is not None and compiler in MCU_COMPILERS:
        chosen["target"] = machine
    if "target" not in chosen and arch in ARCH_TARGETS.get(compiler, {}):
        chosen["target"] = ARCH_TARGETS[compiler][arch]
    return chosen


def step_format(compiler: str) -> str:
    """The format compiler ``compiler`` writes."""
    return str(load_class(compiler, "compiler").output_format)


def artifact_suffix(fmt: str) -> str:
    """The suffix a ``fmt`` artifact is written with."""
    return FORMATS[fmt].suffix if fmt in FORMATS else f".{fmt}"

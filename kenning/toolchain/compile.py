"""Compile a trained demo model in the pinned images, each step where its framework is.

TVM and ONNX Runtime take ONNX, and their image has no training framework, so
those compiles are two steps: ``model_compilation ... onnx`` (the *export*) in the
model's training image, then ``model_compilation onnx-model ...`` (the *compile*) in
``compile-tvm``. TFLite takes the Keras model directly in ``compile-tflite``; the
``onnx`` compiler is the export alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kenning.core.results import write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.demo_models import DIGITS, MODELS, TRAIN_IMAGES, model_path
from kenning.toolchain.steps import Step, paths
from kenning.utils.errors import ConfigurationError, ModelError


@dataclass(frozen=True)
class Compiler:
    """Where a compiler of the registry runs in the toolchain, and what it writes.

    ``short`` is its name in :data:`kenning.core.registry.SHORT_NAMES` (one table of
    names: ``invoke compile --compiler`` takes the same names as the scenarios).
    """

    short: str
    suffix: str
    image: str
    direct: tuple[str, ...] = ()  # model frameworks it takes without an ONNX export


COMPILERS = {
    compiler.short: compiler
    for compiler in (
        Compiler("onnx", "onnx", ""),  # the export alone
        Compiler("onnxruntime-quant", "onnx", "compile-tvm"),
        Compiler("tvm", "so", "compile-tvm"),
        Compiler("tflite", "tflite", "compile-tflite", ("tensorflow",)),
    )
}


def plan(
    model: str,
    compiler: str,
    target: str,
    build: Path,
    *,
    args: Sequence[str] = (),
    name: str = "",
) -> tuple[list[Step], Path]:
    """The steps compiling demo model ``model`` with ``compiler``, and the artifact's path.

    Parameters
    ----------
    model : str
        ``torch`` or ``tensorflow``.
    compiler : str
        A key of :data:`COMPILERS`.
    target : str
        The compiler's ``--target`` (empty: its default).
    build : Path
        Folder holding ``models/``; artifacts go to ``compiled/``.
    args : sequence of str
        More compiler flags.
    name : str
        Artifact file name without suffix (default: ``digits-MODEL-COMPILER[-TARGET]``).

    Raises
    ------
    ConfigurationError
        For an unknown model or compiler, or a pair that cannot work.
    """
    if model not in MODELS:
        raise ConfigurationError(f"unknown model '{model}'; choose from {', '.join(MODELS)}")
    if compiler not in COMPILERS:
        raise ConfigurationError(
            f"unknown compiler '{compiler}'; choose from {', '.join(COMPILERS)}"
        )
    how = COMPILERS[compiler]
    source = MODELS[model]
    out = build / "compiled"
    stem = name or f"digits-{model}-{compiler}{'-' + target if target else ''}"
    artifact = out / f"{stem}.{how.suffix}"
    extra = [*(["--target", target] if target else []), *args]
    scenario = ["python", "-m", "kenning.scenarios.model_compilation"]
    trained = ["--model-path", str(model_path(build, source))]
    source_path = model_path(build, source)
    if how.direct:
        if model not in how.direct:
            raise ConfigurationError(f"--compiler {compiler} takes {', '.join(how.direct)} models")
        command = [*scenario, source.wrapper, how.short, DIGITS, *trained,
                   "--compiled-model-path", str(artifact), *extra]  # fmt: skip
        return [Step("compile", how.image, command, inputs=paths(source_path),
                     outputs=paths(artifact))], artifact  # fmt: skip
    onnx = artifact if compiler == "onnx" else out / f"digits-{model}.onnx"
    export = Step("export", TRAIN_IMAGES[model], [*scenario, source.wrapper, "onnx", DIGITS,
                  *trained, "--compiled-model-path", str(onnx)],
                  inputs=paths(source_path), outputs=paths(onnx))  # fmt: skip
    if compiler == "onnx":
        return [export], artifact
    return [
        export,
        Step("compile", how.image, [*scenario, "onnx-model", how.short, DIGITS,
             "--model-path", str(onnx), "--compiled-model-path", str(artifact), *extra],
             inputs=paths(onnx), outputs=paths(artifact)),
    ], artifact  # fmt: skip


def provenance_path(artifact: Path) -> Path:
    """Where the records of the steps that built ``artifact`` are kept."""
    return artifact.with_name(artifact.name + ".provenance.json")


def run_compile(
    executor: Executor,
    model: str,
    compiler: str,
    target: str,
    build: Path,
    *,
    args: Sequence[str] = (),
    name: str = "",
) -> tuple[Path, dict[str, ExecutionRecord]]:
    """Run the compile steps; write ``<artifact>.provenance.json`` beside the artifact.

    Parameters are those of :func:`plan`.

    Returns
    -------
    tuple of Path and dict
        The artifact, and the record of each step by step name.

    Raises
    ------
    ModelError
        If the trained model is missing.
    ExecutorError
        If a step fails (its image, command, exit code and stderr tail are in the error).
    """
    steps, artifact = plan(model, compiler, target, build, args=args, name=name)
    trained = model_path(build, MODELS[model])
    if not trained.is_file():
        raise ModelError(f"{trained} is missing: run `invoke train` (or `invoke demo`) first",
                         trained)  # fmt: skip
    artifact.parent.mkdir(parents=True, exist_ok=True)
    records = {step.name: step.run(executor) for step in steps}
    write_atomically(
        provenance_path(artifact),
        json.dumps([r.model_dump(mode="json") for r in records.values()], indent=1),
    )
    return artifact, records

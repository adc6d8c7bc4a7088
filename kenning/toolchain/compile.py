"""Compile a trained demo model in the pinned images, each step where its framework is.

TVM and ONNX Runtime take ONNX, and their image has no training framework, so
those compiles are two steps: ``model_compilation ... onnx`` in the model's
training image, then ``model_compilation onnx-model ...`` in ``compile-tvm``.
TFLite takes the Keras model directly in ``compile-tflite``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kenning.core.errors import ConfigurationError, ModelError
from kenning.core.results import write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.demo import DIGITS, MODELS, TRAIN_IMAGES, model_path

#: compiler -> (short name, artifact suffix, image, model frameworks it takes directly)
COMPILERS = {
    "tvm": ("tvm", "so", "compile-tvm", ()),
    "onnxruntime": ("onnxruntime-quant", "onnx", "compile-tvm", ()),
    "tflite": ("tflite", "tflite", "compile-tflite", ("tensorflow",)),
}


@dataclass(frozen=True)
class Step:
    """One command and the image it runs in."""

    image: str
    command: list[str]


def plan(model: str, compiler: str, target: str, build: Path) -> tuple[list[Step], Path]:
    """The steps compiling demo model ``model`` with ``compiler``, and the artifact's path.

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
    short, suffix, image, direct = COMPILERS[compiler]
    source = MODELS[model]
    out = build / "compiled"
    artifact = out / f"digits-{model}-{compiler}{'-' + target if target else ''}.{suffix}"
    extra = ["--target", target] if target else []
    scenario = ["python", "-m", "kenning.scenarios.model_compilation"]
    if direct:
        if model not in direct:
            raise ConfigurationError(f"--compiler {compiler} takes {', '.join(direct)} models")
        return [
            Step(
                image,
                [
                    *scenario,
                    source.wrapper,
                    short,
                    DIGITS,
                    "--model-path",
                    str(model_path(build, source)),
                    "--compiled-model-path",
                    str(artifact),
                    *extra,
                ],
            )
        ], artifact
    onnx = out / f"digits-{model}.onnx"
    return [
        Step(TRAIN_IMAGES[model], [*scenario, source.wrapper, "onnx", DIGITS,
                                   "--model-path", str(model_path(build, source)),
                                   "--compiled-model-path", str(onnx)]),
        Step(image, [*scenario, "onnx-model", short, DIGITS, "--model-path", str(onnx),
                     "--compiled-model-path", str(artifact), *extra]),
    ], artifact  # fmt: skip


def run_compile(
    executor: Executor, model: str, compiler: str, target: str, build: Path
) -> tuple[Path, list[ExecutionRecord]]:
    """Run the compile steps; write ``<artifact>.provenance.json`` beside the artifact.

    Raises
    ------
    ModelError
        If the trained model is missing.
    ExecutorError
        If a step fails (its image, command, exit code and stderr tail are in the error).
    """
    steps, artifact = plan(model, compiler, target, build)
    trained = model_path(build, MODELS[model])
    if not trained.is_file():
        raise ModelError(f"{trained} is missing: run `invoke train` (or `invoke demo`) first",
                         trained)  # fmt: skip
    artifact.parent.mkdir(parents=True, exist_ok=True)
    records = [executor.run(step.command, image=step.image) for step in steps]
    write_atomically(
        artifact.with_name(artifact.name + ".provenance.json"),
        json.dumps([r.model_dump(mode="json") for r in records], indent=1),
    )
    return artifact, records

r"""Compile a trained model, and nothing else: the step the compile images run.

Example::

    python -m kenning.scenarios.model_compilation \\
        kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN \\
        kenning.compilers.tflite.TFLiteCompiler \\
        kenning.datasets.digits.DigitsDataset \\
        --model-path build/digits.keras --compiled-model-path build/digits.tflite

It prints one JSON line: the artifact, its I/O specification, compiler and time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from kenning.core.iospec import IOSpec
from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class of the model"),
    ClassSlot("compilercls", "compiler", "ModelCompiler class that compiles it"),
    ClassSlot("datasetcls", "dataset", "Dataset class (calibration data, input shapes)"),
)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # the classes bring every flag this scenario needs


def main(argv: Sequence[str]) -> int:
    """Parse ``argv``, compile, print where the artifact is."""
    args, classes = build_parser(
        "python -m kenning.scenarios.model_compilation",
        __doc__ or "",
        SLOTS,
        _scenario_arguments,
        argv,
    )
    dataset = classes["datasetcls"].from_argparse(args)
    model = classes["modelwrappercls"].from_argparse(args, dataset=dataset)
    compiler = classes["compilercls"].from_argparse(args, dataset=dataset)
    check_output_path(compiler.compiled_model_path)
    model.prepare_model()
    model.check_inputs()
    start = time.perf_counter()
    compiler.compile_wrapper(model)
    elapsed = time.perf_counter() - start
    name, version = compiler.get_framework_and_version()
    artifact = compiler.compiled_model_path
    print(
        json.dumps(
            {
                "artifact": str(artifact),
                "iospec": str(IOSpec.path_for(artifact)),
                "size_bytes": artifact.stat().st_size,
                "compiler": f"{name} {version}",
                "compile_s": round(elapsed, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    run(main)

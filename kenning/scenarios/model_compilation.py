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
from pathlib import Path

from kenning.core.calibration import write_calibration
from kenning.core.iospec import IOSpec
from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run
from kenning.utils.errors import ConfigurationError

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class of the model"),
    ClassSlot("compilercls", "compiler", "ModelCompiler class that compiles it"),
    ClassSlot("datasetcls", "dataset", "Dataset class (calibration data, input shapes)"),
)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("calibration across a chain")
    group.add_argument(
        "--write-calibration",
        type=Path,
        default=None,
        help="also write train samples preprocessed by this model's wrapper to this .npz, "
        "for a later step that quantises (it cannot run this wrapper's preprocessing)",
    )
    group.add_argument(
        "--write-calibration-samples",
        type=int,
        default=200,
        help="how many samples --write-calibration writes (default: %(default)s)",
    )
    group.add_argument(
        "--calibration-data",
        type=Path,
        default=None,
        help="calibrate on these model-ready inputs (an .npz --write-calibration wrote) "
        "instead of the dataset through this step's wrapper",
    )


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
    compiler.calibration_file = args.calibration_data
    if args.calibration_data is not None and not args.calibration_data.is_file():
        raise ConfigurationError(f"--calibration-data {args.calibration_data} does not exist")
    start = time.perf_counter()
    compiler.compile_wrapper(model)
    elapsed = time.perf_counter() - start
    if args.write_calibration is not None:
        compiler.input_transform = model.preprocess_input
        batches = compiler.source_batches(args.write_calibration_samples, "--write-calibration")
        write_calibration(batches, args.write_calibration)
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

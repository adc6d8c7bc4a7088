r"""Run a trained model in its own framework over a dataset and write a results JSON.

Example::

    python -m kenning.scenarios.inference_performance \\
        kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN \\
        kenning.datasets.digits.DigitsDataset \\
        build/result.json --model-path build/digits.pth
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kenning.core.benchmark import Outcome, run_benchmark
from kenning.core.measure import MeasureSettings, add_measure_arguments
from kenning.core.measurements import collector
from kenning.core.model import ModelWrapper
from kenning.core.newresults import new_results
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import FrameworkInfo
from kenning.core.summary import summary_line
from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run
from kenning.utils.provenance import sha256_file

log = logging.getLogger("kenning.inference")

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class of the model"),
    ClassSlot("datasetcls", "dataset", "Dataset class to run on"),
)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, help="results JSON to write")
    add_measure_arguments(parser)


def framework_outcome(model: ModelWrapper) -> Callable[[np.ndarray], Outcome]:
    """One batch through the model's own framework, each figure timed on its own."""
    scored = model.scored_index()

    def infer(batch: np.ndarray) -> Outcome:
        t0 = time.perf_counter()
        inputs = model.preprocess_input(batch)
        t1 = time.perf_counter()
        raw = model.run_outputs(inputs)
        t2 = time.perf_counter()
        scores = model.postprocess_outputs(raw[scored])
        t3 = time.perf_counter()
        return Outcome(
            scores,
            inference_s=t2 - t1,
            preprocess_s=t1 - t0,
            postprocess_s=t3 - t2,
            end_to_end_s=t3 - t0,
            tensors=raw,
        )

    return infer


def main(argv: Sequence[str]) -> int:
    """Parse ``argv``, run the benchmark and write the results file."""
    args, classes = build_parser(
        "python -m kenning.scenarios.inference_performance",
        __doc__ or "",
        SLOTS,
        _scenario_arguments,
        argv,
    )
    output = check_output_path(args.output)
    dataset = classes["datasetcls"].from_argparse(args)
    model = classes["modelwrappercls"].from_argparse(args, dataset=dataset)
    with collector.timed("model_load_s"):
        model.prepare_model()
        model.check_inputs()
        model.check_outputs()
    name, version = model.get_framework_and_version()
    results = new_results(
        "inference_performance",
        model,
        dataset,
        [FrameworkInfo(role="model", name=name, version=version)],
        model.model_path,
    )
    results.model.sha256 = sha256_file(model.model_path)
    recorder = ResultsRecorder(output, results)
    recorder.output_names = list(results.model.outputs)
    settings = MeasureSettings.from_argparse(args)
    final = run_benchmark(dataset, framework_outcome(model), recorder, settings)
    final.measurements = collector.to_dict()
    recorder.finish("complete")
    print(summary_line(final, output))
    return 0


if __name__ == "__main__":
    run(main)

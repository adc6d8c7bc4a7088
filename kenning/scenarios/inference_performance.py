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
from collections.abc import Sequence
from pathlib import Path

from kenning.core.benchmark import Outcome, run_benchmark
from kenning.core.measurements import collector
from kenning.core.results import FrameworkInfo, ResultsRecorder, new_results, summary_line
from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run

log = logging.getLogger("kenning.inference")

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class of the model"),
    ClassSlot("datasetcls", "dataset", "Dataset class to run on"),
)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, help="results JSON to write")


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
    name, version = model.get_framework_and_version()
    results = new_results(
        "inference_performance",
        model,
        dataset,
        [FrameworkInfo(role="model", name=name, version=version)],
        model.model_path,
    )
    recorder = ResultsRecorder(output, results)
    final = run_benchmark(dataset, lambda x: Outcome(model.infer(x)), recorder)
    final.measurements = collector.to_dict()
    recorder.flush()
    print(summary_line(final, output))
    return 0


if __name__ == "__main__":
    run(main)

r"""Train a model wrapper on a dataset and save the model.

Example::

    python -m kenning.scenarios.model_training \\
        kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN \\
        kenning.datasets.digits.DigitsDataset \\
        --model-path build/digits.pth --num-epochs 10
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run
from kenning.utils.argtypes import positive_float, positive_int
from kenning.utils.errors import ModelError

log = logging.getLogger("kenning.training")

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class to train"),
    ClassSlot("datasetcls", "dataset", "Dataset class to train on"),
)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=32,
        help="training batch size (default: %(default)s)",
    )
    group.add_argument(
        "--learning-rate",
        type=positive_float,
        default=0.001,
        help="learning rate (default: %(default)s)",
    )
    group.add_argument(
        "--num-epochs",
        type=positive_int,
        default=10,
        help="number of epochs (default: %(default)s)",
    )
    group.add_argument(
        "--logdir", type=Path, default=None, help="folder for TensorBoard event files"
    )


def main(argv: Sequence[str]) -> int:
    """Parse ``argv``, train, save the model and print the final metrics."""
    args, classes = build_parser(
        "python -m kenning.scenarios.model_training",
        __doc__ or "",
        SLOTS,
        _scenario_arguments,
        argv,
    )
    model_path = check_output_path(args.model_path)
    if args.logdir is not None:
        check_output_path(args.logdir / "events")
    dataset = classes["datasetcls"].from_argparse(args)
    model = classes["modelwrappercls"].from_argparse(args, dataset=dataset, from_file=False)
    model.check_save_path(model_path)
    model.prepare_model()
    log.info(
        "training %s on %s for %d epochs",
        type(model).__name__,
        type(dataset).__name__,
        args.num_epochs,
    )
    metrics = model.train_model(args.batch_size, args.learning_rate, args.num_epochs, args.logdir)
    diverged = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    if diverged:
        raise ModelError(
            f"training diverged ({', '.join(diverged)} not finite); {model_path} was not "
            "written: lower --learning-rate",
            model_path,
        )
    model.save_model_atomically(model_path)
    _warn_if_constant(model, dataset)
    print(
        json.dumps({"model_path": str(model_path), **{k: round(v, 4) for k, v in metrics.items()}})
    )
    return 0


def _warn_if_constant(model: Any, dataset: Any) -> None:
    """Warn when the trained model predicts one class for every validation sample."""
    if dataset.task != "classification" or dataset.num_classes < 2:
        return
    predicted: set[int] = set()
    labels: set[int] = set()
    for _, inputs, truth in dataset.iter_batches("validation"):
        predicted.update(
            int(c) for c in np.asarray(model.infer(inputs)).reshape(len(inputs), -1).argmax(axis=1)
        )
        labels.update(int(t) for t in truth)
    if len(predicted) == 1 and len(labels) > 1:
        log.warning(
            "the trained model predicts class %s for every validation sample (%d classes "
            "there): it has not learned; train longer, raise --learning-rate, or start from "
            "pretrained weights",
            dataset.get_class_names()[predicted.pop()],
            len(labels),
        )


if __name__ == "__main__":
    run(main)

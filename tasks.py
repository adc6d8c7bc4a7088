"""invoke tasks: thin wrappers over kenning's scenarios and library code.

Run ``invoke --list`` to see them and ``invoke --help TASK`` for a task's options.
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Context, Exit, task

PY = sys.executable
DIGITS = "kenning.datasets.digits.DigitsDataset"
MODELS = {
    "torch": ("kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN", "pth"),
    "tensorflow": (
        "kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN",
        "keras",
    ),
}


def _run(c: Context, args: list[str]) -> None:
    result = c.run(" ".join([PY, "-m", *args]), warn=True, pty=sys.stdout.isatty())
    if result is None or result.exited != 0:
        raise Exit(f"step failed: python -m {' '.join(args)}", code=1)


@task(help={"build": "output folder (default: build)", "epochs": "training epochs"})
def train(c: Context, build: str = "build", epochs: int = 10) -> None:
    """Train the digits CNNs (PyTorch and TensorFlow) on the bundled digits dataset."""
    out = Path(build)
    for name, (wrapper, suffix) in MODELS.items():
        print(f"== training {name} digits CNN")
        _run(
            c,
            [
                "kenning.scenarios.model_training",
                wrapper,
                DIGITS,
                "--model-path",
                str(out / f"digits-{name}.{suffix}"),
                "--logdir",
                str(out / "logs" / name),
                "--num-epochs",
                str(epochs),
            ],
        )


@task(help={"build": "output folder (default: build)"})
def performance(c: Context, build: str = "build") -> None:
    """Run each trained digits model in its own framework and write results JSON."""
    out = Path(build)
    for name, (wrapper, suffix) in MODELS.items():
        model = out / f"digits-{name}.{suffix}"
        if not model.is_file():
            raise Exit(f"{model} is missing: run `invoke train` first", code=1)
        print(f"== benchmarking {name} digits CNN on this machine")
        _run(
            c,
            [
                "kenning.scenarios.inference_performance",
                wrapper,
                DIGITS,
                str(out / f"results-{name}.json"),
                "--model-path",
                str(model),
            ],
        )


@task(help={"build": "output folder (default: build)", "epochs": "training epochs"})
def demo(c: Context, build: str = "build", epochs: int = 10) -> None:
    """The main job: train, compile every way, benchmark on the local board, render the report."""
    from kenning.core.errors import KenningError
    from kenning.executors.local import LocalExecutor
    from kenning.toolchain.demo import run_demo

    try:
        report = run_demo(LocalExecutor(), Path(build) / "demo", epochs)
    except KenningError as exc:
        raise Exit(f"demo failed: {exc}", code=1) from exc
    print(f"== report: {report.resolve()}")

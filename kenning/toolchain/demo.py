"""The demo: train the digits models, compile them every way, benchmark each on a board.

Each step is a scenario command run by an executor, so the results keep the
provenance of every step; the benchmarks go through the real protocol to an
``inference_server`` on the local board.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from kenning.core.errors import KenningError
from kenning.core.results import load_results, write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.localboard import local_server
from kenning.utils.progress import progress

log = logging.getLogger("kenning.demo")

DIGITS = "kenning.datasets.digits.DigitsDataset"


@dataclass(frozen=True)
class Model:
    """A trainable model of the demo."""

    name: str
    wrapper: str
    suffix: str


MODELS = {
    "torch": Model(
        "torch", "kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN", "pth"
    ),
    "tensorflow": Model(
        "tensorflow",
        "kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN",
        "keras",
    ),
}


@dataclass(frozen=True)
class Artifact:
    """One way of deploying a model: compiler, its flags, and the runtime running the result."""

    name: str
    model: str
    compiler: str
    suffix: str
    runtime: str
    compiler_args: tuple[str, ...] = field(default=())


ARTIFACTS = (
    Artifact("torch-onnx-ort", "torch", "onnx", "onnx", "onnxruntime"),
    Artifact("torch-ort-int8", "torch", "onnxruntime-quant", "onnx", "onnxruntime"),
    Artifact("torch-tvm", "torch", "tvm", "so", "tvm", ("--target", "llvm")),
    Artifact("tf-tflite", "tensorflow", "tflite", "tflite", "tflite"),
    Artifact("tf-tflite-int8", "tensorflow", "tflite", "tflite", "tflite",
             ("--target", "int8", "--inference-input-type", "int8",
              "--inference-output-type", "int8")),
    Artifact("tf-onnx-ort", "tensorflow", "onnx", "onnx", "onnxruntime"),
)  # fmt: skip


#: the image each model trains (and exports to ONNX) in
TRAIN_IMAGES = {"torch": "train-torch", "tensorflow": "train-tensorflow"}


def model_path(build: Path, model: Model) -> Path:
    """Where the demo keeps a trained model."""
    return build / "models" / f"digits-{model.name}.{model.suffix}"


def _python(*args: str) -> list[str]:
    return ["python", "-m", *args]


def _attach(results_path: Path, steps: dict[str, ExecutionRecord], extra: dict[str, str]) -> None:
    """Store the steps' provenance in a results file."""
    results = load_results(results_path)
    results.provenance.update(extra)
    results.provenance["steps"] = {k: v.model_dump(mode="json") for k, v in steps.items()}
    write_atomically(results_path, results.dump())


def train(executor: Executor, build: Path, epochs: int) -> dict[str, ExecutionRecord]:
    """Train every demo model; return each training step's record."""
    records = {}
    for model in MODELS.values():
        records[model.name] = executor.run(
            _python("kenning.scenarios.model_training", model.wrapper, DIGITS,
                    "--model-path", str(model_path(build, model)),
                    "--logdir", str(build / "logs" / model.name), "--num-epochs", str(epochs)),
            image=TRAIN_IMAGES[model.name],
        )  # fmt: skip
    return records


def baseline(executor: Executor, build: Path, model: Model, trained: ExecutionRecord) -> Path:
    """Run a model in its own framework on this host: the reference point."""
    out = build / "results" / f"{model.name}-framework.json"
    record = executor.run(
        _python("kenning.scenarios.inference_performance", model.wrapper, DIGITS, str(out),
                "--model-path", str(model_path(build, model))),
    )  # fmt: skip
    _attach(
        out, {"train": trained, "benchmark": record}, {"board": "host", "artifact": model.name}
    )
    return out


def bench(executor: Executor, build: Path, artifact: Artifact, trained: ExecutionRecord) -> Path:
    """Compile one artifact and benchmark it on the local board through the protocol."""
    model = MODELS[artifact.model]
    out = build / "results" / f"{artifact.name}.json"
    compiled = build / "artifacts" / f"{artifact.name}.{artifact.suffix}"
    target = build / "board-local" / artifact.name
    with local_server(
        artifact.runtime, target / f"model.{artifact.suffix}", target / "server.log"
    ) as server:
        record = executor.run(
            _python(
                "kenning.scenarios.inference_tester", model.wrapper, artifact.compiler,
                artifact.runtime, DIGITS, str(out),
                "--protocol-cls", "network", "--host", server.host, "--port", str(server.port),
                "--model-path", str(model_path(build, model)),
                "--compiled-model-path", str(compiled), *artifact.compiler_args,
            ),
        )  # fmt: skip
    _attach(out, {"train": trained, "compile+benchmark": record},
            {"board": "local", "artifact": artifact.name})  # fmt: skip
    return out


def run_demo(executor: Executor, build: Path, epochs: int = 10) -> Path:
    """Train, compile every way, benchmark on the local board and render the report.

    Returns
    -------
    Path
        The HTML comparison report.

    Raises
    ------
    KenningError
        When a step fails; the results of the steps before it stay in ``build``.
    """
    build.mkdir(parents=True, exist_ok=True)
    trained = train(executor, build, epochs)
    outputs: list[Path] = []
    failures: list[str] = []
    steps = len(MODELS) + len(ARTIFACTS)
    with progress("benchmarking artifacts", steps) as advance:
        for model in MODELS.values():
            outputs.append(baseline(executor, build, model, trained[model.name]))
            advance(1)
        for artifact in ARTIFACTS:
            try:
                outputs.append(bench(executor, build, artifact, trained[artifact.model]))
            except KenningError as exc:  # keep going: one bad artifact must not hide the rest
                log.error("%s failed: %s", artifact.name, exc)
                failures.append(f"{artifact.name}: {exc}")
            advance(1)
    report = build / "report" / "index.html"
    executor.run(
        _python("kenning.scenarios.render_report", *map(str, outputs),
                "Digits classification: every deployment compared", str(report),
                "--report-types", "performance", "classification", "--format", "html"),
    )  # fmt: skip
    write_atomically(build / "demo-summary.json", json.dumps(
        {"results": [str(p) for p in outputs], "report": str(report), "failures": failures},
        indent=2))  # fmt: skip
    if failures:
        raise KenningError(
            f"{len(failures)} artifact(s) failed (report of the others: {report}): "
            + "; ".join(failures)
        )
    return report

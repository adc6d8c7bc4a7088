"""Compile the digits CNNs (Keras and PyTorch) every way kenning can and compare the artifacts.

For each source model: its own framework, then every compiler/runtime pair that takes it
(ONNX + ONNX Runtime fp32 and int8, TFLite float32/float16/int8, PyTorch export, TVM llvm,
TVM host untuned and tuned, TVM aarch64 build only). Each artifact is measured exactly as
``inference_tester`` measures it in-process (``kenning.core.benchmark.run_benchmark`` with the
same warm-up and run-length flags; latency is the ``inference`` figure, ``Runtime.run()``
alone), so accuracy and p50/p99 at batch 1 agree with what a benchmark run prints; each
artifact's results file is kept in ``OUT_DIR/results/``. Prints a table, the figures, and a
last line of JSON.

Figures, per source model: ``tvm_tuned_speedup`` (TVM untuned p50 / tuned p50, same
target, goal >= 5); ``best_optimised_vs_fastest_framework`` and
``tvm_tuned_vs_fastest_framework`` (p50 of the fastest optimised artifact, and of tuned TVM,
over the fastest framework runtime, goal <= 1.1). A framework runtime is what one gets
without an optimising compiler: the model in its own framework, its ONNX export on ONNX
Runtime, its plain TFLite conversion, or its PyTorch exported program.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kenning.compilers.onnx import ONNXCompiler
from kenning.compilers.onnxruntime import ONNXRuntimeQuantizer
from kenning.compilers.pytorch import PyTorchCompiler
from kenning.compilers.tflite import TFLiteCompiler
from kenning.compilers.tvm import TVMCompiler
from kenning.core.benchmark import InferFn, run_benchmark
from kenning.core.compiler import ModelCompiler
from kenning.core.figures import PRIMARY
from kenning.core.measure import MeasureSettings, add_measure_arguments
from kenning.core.model import ModelWrapper
from kenning.core.pipeline import compile_and_load, host_outcome
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import Results, new_results
from kenning.core.runtime import Runtime
from kenning.datasets.digits import DigitsDataset
from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN
from kenning.modelwrappers.classification.tensorflow_digits import TensorFlowDigitsCNN
from kenning.runtimes.onnxruntime import ONNXRuntime
from kenning.runtimes.pytorch import PyTorchRuntime
from kenning.runtimes.tflite import TFLiteRuntime
from kenning.runtimes.tvm import TVMRuntime
from kenning.scenarios.inference_performance import framework_outcome
from kenning.utils.errors import KenningError

#: rows counted as "framework runtimes" (no compiler beyond the framework's own export)
FRAMEWORK_ROWS = ("native", "ort-fp32", "tflite-fp32", "torch-export")


@dataclass
class Row:
    model: str
    artifact: str
    accuracy: float | None = None
    size_bytes: int | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    valid: str | None = None
    compile_s: float | None = None
    note: str = ""


@dataclass
class Variant:
    name: str
    suffix: str
    compiler: Callable[[DigitsDataset, Path], ModelCompiler]
    runtime: Callable[[], Runtime] | None  # None: build only (another machine's code)


def variants(args: argparse.Namespace, fmt: str) -> list[Variant]:
    t = args.threads
    tvm: dict[str, Any] = {"tuning_cache_dir": args.tuning_cache_dir}
    # this CPU, and as many cores as the runtimes get: tuning then sizes parallel loops to them
    host = json.dumps({"kind": "llvm", "mcpu": "native", "num-cores": max(1, t)})
    out = [
        Variant(
            "ort-fp32",
            ".onnx",
            lambda d, p: ONNXCompiler(d, p),
            lambda: ONNXRuntime(num_threads=t),
        ),
        Variant(
            "ort-int8",
            ".onnx",
            lambda d, p: ONNXRuntimeQuantizer(d, p),
            lambda: ONNXRuntime(num_threads=t),
        ),
    ]
    if fmt == "keras":
        for name, kw in (
            ("tflite-fp32", {}),
            ("tflite-fp16", {"target": "float16"}),
            (
                "tflite-int8",
                {
                    "target": "int8",
                    "inference_input_type": "int8",
                    "inference_output_type": "int8",
                },
            ),
        ):
            out.append(
                Variant(
                    name,
                    ".tflite",
                    lambda d, p, kw=kw: TFLiteCompiler(d, p, **kw),
                    lambda: TFLiteRuntime(num_threads=t),
                )
            )
    if fmt == "torch":
        out.append(
            Variant(
                "torch-export",
                ".pt2",
                lambda d, p: PyTorchCompiler(d, p),
                lambda: PyTorchRuntime(num_threads=t),
            )
        )
    out += [
        Variant(
            "tvm-llvm",
            ".so",
            lambda d, p: TVMCompiler(d, p, target="llvm", **tvm),
            lambda: TVMRuntime(num_threads=t),
        ),
        Variant(
            "tvm-host",
            ".so",
            lambda d, p: TVMCompiler(d, p, target=host, **tvm),
            lambda: TVMRuntime(num_threads=t),
        ),
    ]
    if args.tune_trials:
        out.append(
            Variant(
                "tvm-tuned",
                ".so",
                lambda d, p: TVMCompiler(d, p, target=host, tune_trials=args.tune_trials, **tvm),
                lambda: TVMRuntime(num_threads=t),
            )
        )
    if shutil.which("aarch64-linux-gnu-g++"):
        out.append(
            Variant(
                "tvm-aarch64", ".so", lambda d, p: TVMCompiler(d, p, target="aarch64", **tvm), None
            )
        )
    return out


def measure(
    infer: InferFn,
    model: ModelWrapper,
    dataset: DigitsDataset,
    args: argparse.Namespace,
    name: str,
    artifact: Path,
) -> Results:
    """The artifact measured as ``inference_tester`` measures it: same loop, same figures."""
    results = new_results(f"bench_compilers:{name}", model, dataset, [], artifact)
    recorder = ResultsRecorder(args.out_dir / "results" / f"{name}.json", results)
    return run_benchmark(dataset, infer, recorder, MeasureSettings.from_argparse(args))


def fill(row: Row, results: Results) -> Row:
    figure = results.figures[PRIMARY]
    row.accuracy = round(results.metrics.accuracy, 4) if results.metrics else None
    row.p50_us = round(figure.median * 1e6, 1)
    p99 = figure.percentile(99.0)
    row.p99_us = round(p99.value * 1e6, 1) if p99 else None
    row.valid = results.verdict.word if results.verdict else None
    return row


def train(
    wrapper: type[ModelWrapper], path: Path, dataset: DigitsDataset, epochs: int
) -> ModelWrapper:
    if path.is_file():
        model = wrapper(path, dataset)
        model.prepare_model()
        return model
    model = wrapper(path, dataset, from_file=False)
    model.prepare_model()
    model.train_model(batch_size=32, learning_rate=0.002, epochs=epochs, logdir=None)
    model.save_model(path)
    return model


def bench_model(
    fmt: str, model: ModelWrapper, dataset: DigitsDataset, args: argparse.Namespace
) -> list[Row]:
    rows = [
        fill(
            Row(fmt, "native", size_bytes=model.model_path.stat().st_size),
            measure(
                framework_outcome(model), model, dataset, args, f"{fmt}-native", model.model_path
            ),
        )
    ]
    for variant in variants(args, fmt):
        path = args.out_dir / f"{fmt}-{variant.name}{variant.suffix}"
        row = Row(fmt, variant.name)
        rows.append(row)
        print(f"[{fmt}] {variant.name} ...", flush=True)
        try:
            compiler = variant.compiler(dataset, path)
            start = time.perf_counter()
            if variant.runtime is None:
                compiler.compile_wrapper(model)
                row.compile_s = round(time.perf_counter() - start, 1)
                kind = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True)
                row.note = "build only: " + kind.stdout.split(",")[1].strip()
            else:
                runtime = variant.runtime()
                compile_and_load(model, compiler, runtime)
                row.compile_s = round(time.perf_counter() - start, 1)
                fill(
                    row,
                    measure(
                        host_outcome(model, runtime),
                        model,
                        dataset,
                        args,
                        f"{fmt}-{variant.name}",
                        path,
                    ),
                )
                if getattr(compiler, "tuning_reused", None):
                    row.note = "tuning records reused from cache"
            row.size_bytes = path.stat().st_size
        except KenningError as exc:
            row.note = f"error: {exc}"
    return rows


def _p50(row: Row) -> float:
    return row.p50_us if row.p50_us is not None else float("inf")


def summarise(rows: list[Row]) -> dict[str, Any]:
    """Speed-up of tuning, and the compiled artifacts against the framework runtimes."""
    figures: dict[str, Any] = {}
    for fmt in sorted({r.model for r in rows}):
        mine = {r.artifact: r for r in rows if r.model == fmt and r.p50_us is not None}
        if "tvm-host" in mine and "tvm-tuned" in mine:
            figures[f"{fmt}_tvm_tuned_speedup"] = round(
                _p50(mine["tvm-host"]) / _p50(mine["tvm-tuned"]), 2
            )
        frameworks = [r for a, r in mine.items() if a in FRAMEWORK_ROWS]
        optimised = [r for a, r in mine.items() if a not in FRAMEWORK_ROWS]
        if not frameworks or not optimised:
            continue
        fastest = min(frameworks, key=_p50)
        best = min(optimised, key=_p50)
        figures[f"{fmt}_fastest_framework"] = f"{fastest.artifact} {fastest.p50_us} us"
        figures[f"{fmt}_best_optimised"] = f"{best.artifact} {best.p50_us} us"
        figures[f"{fmt}_best_optimised_vs_fastest_framework"] = round(
            _p50(best) / _p50(fastest), 3
        )
        if "tvm-tuned" in mine:
            figures[f"{fmt}_tvm_tuned_vs_fastest_framework"] = round(
                _p50(mine["tvm-tuned"]) / _p50(fastest), 3
            )
    return figures


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'model':6} {'artifact':13} {'accuracy':>8} {'size KB':>8} {'p50 us':>9} "
        f"{'p99 us':>9} {'compile s':>9}  note"
    )
    print(head)
    print("-" * len(head))
    for r in rows:

        def num(v: float | None, fmt: str) -> str:
            return format(v, fmt) if v is not None else "-"

        size = r.size_bytes / 1024 if r.size_bytes is not None else None
        print(
            f"{r.model:6} {r.artifact:13} {num(r.accuracy, '.4f'):>8} {num(size, '.1f'):>8} "
            f"{num(r.p50_us, '.1f'):>9} {num(r.p99_us, '.1f'):>9} "
            f"{num(r.compile_s, '.1f'):>9}  {r.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--out-dir", type=Path, default=Path("build/bench-compilers"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--tune-trials", type=int, default=200, help="0 skips tuned TVM")
    parser.add_argument(
        "--tuning-cache-dir", type=Path, default=Path("~/.cache/kenning/tvm-tuning")
    )
    parser.add_argument("--threads", type=int, default=1, help="threads of every runtime")
    add_measure_arguments(parser)
    parser.add_argument(
        "--models", nargs="+", default=["keras", "torch"], choices=["keras", "torch"]
    )
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    # one thread everywhere unless told: stable latencies on a shared machine
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TVM_NUM_THREADS", str(args.threads))
    dataset = DigitsDataset(None)
    rows: list[Row] = []
    if "keras" in args.models:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        model = train(TensorFlowDigitsCNN, args.out_dir / "digits.keras", dataset, args.epochs)
        rows += bench_model("keras", model, dataset, args)
    if "torch" in args.models:
        import torch

        torch.set_num_threads(args.threads)
        model = train(PyTorchDigitsCNN, args.out_dir / "digits.pth", dataset, args.epochs)
        rows += bench_model("torch", model, dataset, args)
    print()
    print_table(rows)
    figures = summarise(rows)
    print()
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps({"rows": [asdict(r) for r in rows], "figures": figures}))


if __name__ == "__main__":
    main()

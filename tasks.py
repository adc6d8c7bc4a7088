"""invoke tasks: thin wrappers over kenning's scenarios and library code.

Run ``invoke --list`` to see them and ``invoke --help TASK`` for a task's options.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from invoke import Context, Exit, task

PY = sys.executable


def _run(c: Context, args: list[str]) -> None:
    result = c.run(shlex.join([PY, "-m", *args]), warn=True, pty=sys.stdout.isatty())
    if result is None or result.exited != 0:
        raise Exit(f"step failed: python -m {' '.join(args)}", code=1)


@task(
    help={
        "compiler": "tvm, tflite or onnxruntime (int8)",
        "target": "compiler target, e.g. aarch64 for tvm, int8 for tflite",
        "model": "torch or tensorflow (default: torch; tflite takes tensorflow)",
        "executor": "auto (docker when a daemon answers), local or docker",
        "build": "folder holding models/ from `invoke train` (default: build/demo)",
    }
)
def compile(
    c: Context,
    compiler: str = "tvm",
    target: str = "",
    model: str = "",
    executor: str = "auto",
    build: str = "build/demo",
) -> None:
    """Compile a trained digits model, each step in its pinned image."""
    from kenning.core.errors import KenningError
    from kenning.executors import select_executor
    from kenning.toolchain.compile import run_compile

    chosen = model or ("tensorflow" if compiler == "tflite" else "torch")
    try:
        with select_executor(executor) as runner:
            artifact, records = run_compile(runner, chosen, compiler, target, Path(build))
    except KenningError as exc:
        raise Exit(f"compile failed: {exc}", code=1) from exc
    where = ", ".join(f"{r.image or 'local'}" for r in records)
    print(f"== {artifact} (ran in: {where})")


@task(
    help={
        "build": "output folder (default: build/demo)",
        "epochs": "training epochs",
        "executor": "auto (docker when a daemon answers), local or docker",
    }
)
def train(
    c: Context, build: str = "build/demo", epochs: int = 10, executor: str = "local"
) -> None:
    """Train the digits CNNs (PyTorch and TensorFlow), each in its training image."""
    from kenning.core.errors import KenningError
    from kenning.executors import select_executor
    from kenning.toolchain.demo import train as train_models

    try:
        with select_executor(executor) as runner:
            train_models(runner, Path(build), epochs)
    except KenningError as exc:
        raise Exit(f"training failed: {exc}", code=1) from exc
    print(f"== models in {Path(build) / 'models'}")


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


@task(
    help={
        "name": "image to build (default: all); repeatable",
        "arch": "with no --name: amd64 or arm64 images (default: both)",
        "no_extra_ca": "do not trust this machine's extra CA certificates (images for boards)",
    },
    iterable=["name"],
)
def images(
    c: Context, name: list[str] | None = None, arch: str = "", no_extra_ca: bool = False
) -> None:
    """Build the offline base images and the pinned images in images/ (reuses Docker's cache)."""
    from kenning.executors.dockerclient import daemon_available
    from kenning.toolchain.catalogue import CATALOGUE

    if not daemon_available():
        raise Exit(
            "no Docker daemon answers: run `bash .ci/setup-docker none` (installs and "
            "starts dockerd) or start dockerd yourself",
            code=1,
        )
    wanted = list(name or [])
    if not wanted:
        wanted = [n for n, s in CATALOGUE.items() if not arch or s.arch == arch]
    for base_arch in sorted({CATALOGUE[n].arch for n in wanted}):
        _run(c, ["kenning.toolchain", "base", "--arch", base_arch])
    extra = ["--no-extra-ca"] if no_extra_ca else []
    _run(c, ["kenning.toolchain", "build", *wanted, *extra])


@task(help={"build": "output folder (default: build)"})
def convert(c: Context, build: str = "build") -> None:
    """Write the ONNX support table (PyTorch, TensorFlow, MXNet round trips)."""
    out = Path(build)
    _run(
        c,
        [
            "kenning.scenarios.onnx_conversion",
            str(out / "models-directory"),
            str(out / "onnx-support.rst"),
            "--converters-list",
            "pytorch",
            "tensorflow",
            "mxnet",
        ],
    )
    print(f"== table: {out / 'onnx-support.rst'}")


@task(
    help={
        "results": "results JSON (repeatable; several give a comparison)",
        "name": "report title",
        "out": "report file: .html, .rst or .md (default: build/report/index.html)",
    },
    iterable=["results"],
)
def report(
    c: Context,
    results: list[str] | None = None,
    name: str = "kenning report",
    out: str = "build/report/index.html",
) -> None:
    """Render a report from results files (default: every results file of the last demo)."""
    files = list(results or []) or sorted(
        str(p) for p in Path("build/demo/results").glob("*.json")
    )
    if not files:
        raise Exit("no results files: pass --results FILE or run `invoke demo` first", code=1)
    _run(c, ["kenning.scenarios.render_report", *files, name, out])

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
        "compiler": "tvm, tflite, onnxruntime-quant (int8) or onnx (as `kenning list compiler`)",
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
    from kenning.executors import select_executor
    from kenning.toolchain.compile import run_compile
    from kenning.utils.errors import KenningError

    chosen = model or ("tensorflow" if compiler == "tflite" else "torch")
    try:
        with select_executor(executor) as runner:
            artifact, records = run_compile(runner, chosen, compiler, target, Path(build))
    except KenningError as exc:
        raise Exit(f"compile failed: {exc}", code=1) from exc
    where = ", ".join(f"{r.image or 'local'}" for r in records.values())
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
    from kenning.executors import select_executor
    from kenning.toolchain.demo import train as train_models
    from kenning.utils.errors import KenningError

    try:
        with select_executor(executor) as runner:
            train_models(runner, Path(build), epochs)
    except KenningError as exc:
        raise Exit(f"training failed: {exc}", code=1) from exc
    print(f"== models in {Path(build) / 'models'}")


@task(
    help={
        "build": "output folder (default: build)",
        "epochs": "training epochs",
        "executor": "where training and compiling run: local (default), docker or auto",
    }
)
def demo(c: Context, build: str = "build", epochs: int = 10, executor: str = "local") -> None:
    """The main job: train, compile every way, benchmark on the local board, render the report."""
    from kenning.executors import select_executor
    from kenning.toolchain.demo import run_demo
    from kenning.utils.errors import KenningError

    try:
        with select_executor(executor) as runner:
            report = run_demo(runner, Path(build) / "demo", epochs)
    except KenningError as exc:
        raise Exit(f"demo failed: {exc}", code=1) from exc
    print(f"== report: {report.resolve()}")


@task(
    help={
        "board": "board name (default: local, this machine)",
        "artifact": "demo artifact to bench (repeatable; default: every one the board runs)",
        "model": "with --compiler/--runtime: an ad-hoc artifact: torch or tensorflow",
        "compiler": "tvm, tflite, onnxruntime-quant (int8) or onnx",
        "runtime": "runtime on the board: tvm, tflite, onnxruntime",
        "executor": "where compiling runs: auto (docker when a daemon answers), local, docker",
        "build": "folder holding models/ from `invoke train` (default: build/demo)",
        "resume": "continue partial results instead of starting again",
        "trust_host_key": "accept (and record in known_hosts) a board's unknown SSH host key",
        "warmup": "inferences run and discarded before measuring (default 10)",
        "min_samples": "measure at least this many samples, looping over the data (default "
        "1000; p99 needs 662)",
        "min_duration": "... and for at least this many seconds (default 0)",
        "sample_seed": "seed of the sample order (default 0)",
        "percentiles": "percentiles to report, comma-separated (default 50,90,99)",
    },
    iterable=["artifact"],
)
def bench(
    c: Context,
    board: str = "local",
    artifact: list[str] | None = None,
    model: str = "",
    compiler: str = "",
    runtime: str = "",
    executor: str = "auto",
    build: str = "build/demo",
    resume: bool = False,
    trust_host_key: bool = False,
    warmup: int = 10,
    min_samples: int = 1000,
    min_duration: float = 0.0,
    sample_seed: int = 0,
    percentiles: str = "50,90,99",
) -> None:
    """Compile for a board, benchmark there through the protocol, and render a report."""
    from kenning.core.measure import MeasureSettings
    from kenning.executors import select_executor
    from kenning.toolchain.benchtask import run_bench
    from kenning.utils.errors import KenningError

    try:
        measure = MeasureSettings.checked(
            warmup=warmup, min_samples=min_samples, min_duration_s=min_duration,
            seed=sample_seed, percentiles=[float(q) for q in percentiles.split(",") if q],
        )  # fmt: skip
    except (KenningError, ValueError) as exc:
        raise Exit(f"error: {exc}", code=2) from exc
    try:
        with select_executor(executor) as runner:
            report, results = run_bench(
                runner, board, Path(build), list(artifact or []), model, compiler, runtime,
                resume=resume, trust_host_key=trust_host_key, measure=measure,
            )  # fmt: skip
    except KenningError as exc:
        raise Exit(f"bench failed: {exc}", code=1) from exc
    for path in results:
        print(f"== results: {path}")
    print(f"== report: {report.resolve()}")


@task(
    help={
        "check": "probe every board in parallel (SSH, architecture, Python, runtimes, disk)",
        "board": "with --check: only this board (repeatable)",
        "trust_host_key": "with --check: accept (and record) unknown SSH host keys",
    },
    iterable=["board"],
)
def boards(
    c: Context, check: bool = False, board: list[str] | None = None, trust_host_key: bool = False
) -> None:
    """List the boards of inventory.yaml; with --check, probe them and print a table."""
    from kenning.boards import check_boards, format_boards, format_table, load_inventory
    from kenning.utils.errors import KenningError

    try:
        inventory = load_inventory()
    except KenningError as exc:
        raise Exit(str(exc), code=1) from exc
    if not check:
        print(format_boards(inventory), end="")
        return
    try:
        statuses = check_boards(inventory, list(board or []) or None,
                                trust_unknown_host=trust_host_key)  # fmt: skip
    except KenningError as exc:
        raise Exit(str(exc), code=1) from exc
    print(format_table(statuses), end="")
    failing = [s.name for s in statuses if not s.ok]
    if failing:
        raise Exit(f"boards with problems: {', '.join(failing)}", code=1)


@task(
    help={
        "band": "relative band latency p50 must stay within (default 0.5 = ±50%)",
        "workspace": "where the steps run again (default: build/reproduce/<name>)",
    }
)
def reproduce(c: Context, results: str, band: float = 0.5, workspace: str = "") -> None:
    """Re-run the steps recorded in RESULTS (same images) and compare with it."""
    from kenning.toolchain.reproduce import reproduce as run_again
    from kenning.toolchain.verdict import format_verdict
    from kenning.utils.errors import KenningError

    try:
        verdict = run_again(
            Path(results), workspace=Path(workspace) if workspace else None, latency_band=band
        )
    except KenningError as exc:
        raise Exit(f"reproduce failed: {exc}", code=1) from exc
    print(format_verdict(verdict), end="")
    if not verdict.ok:
        raise Exit(code=1)


@task(
    help={
        "name": "image to build (default: all); repeatable",
        "arch": "with no --name: amd64 or arm64 images (default: both)",
        "no_extra_ca": "do not trust this machine's extra CA certificates (images for boards)",
        "push": "then push them: --push REGISTRY (HOST[:PORT][/PATH]), or --push alone for "
        "the local registry (started if needed)",
    },
    iterable=["name"],
    optional=["push"],
)
def images(
    c: Context,
    name: list[str] | None = None,
    arch: str = "",
    no_extra_ca: bool = False,
    push: str | bool = False,
) -> None:
    """Build the offline base images and the pinned images in images/; optionally push them."""
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
    if push:
        target = ["--registry", push] if isinstance(push, str) else []
        _run(c, ["kenning.toolchain", "push", *wanted, *target])


@task(help={"port": "port on 127.0.0.1 (default: last time's, else a free one)",
            "stop": "stop the registry (its storage in build/registry/ stays)"})  # fmt: skip
def registry(c: Context, port: int = 0, stop: bool = False) -> None:
    """Start a local image registry (Debian's docker-registry) on loopback for --push."""
    _run(c, ["kenning.toolchain", "registry", "--port", str(port), *(["--stop"] if stop else [])])


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
        str(p) for p in Path("build/demo/results").rglob("*.json")
    )
    if not files:
        raise Exit("no results files: pass --results FILE or run `invoke demo` first", code=1)
    _run(c, ["kenning.scenarios.render_report", *files, name, out])

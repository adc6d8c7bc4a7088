"""invoke tasks: thin wrappers over kenning's scenarios and library code.

Run ``invoke --list`` to see them and ``invoke --help TASK`` for a task's options.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Context, Exit, task

if TYPE_CHECKING:
    from kenning.toolchain.bench import Job

PY = sys.executable


def _run(c: Context, args: list[str]) -> None:
    result = c.run(shlex.join([PY, "-m", *args]), warn=True, pty=sys.stdout.isatty())
    if result is None or result.exited != 0:
        raise Exit(f"step failed: python -m {' '.join(args)}", code=1)


DEMO = "scenarios/digits.yaml"


def _job(scenario: str, **measure: object) -> Job:
    """The checked scenario (every problem of the file at once, before any work)."""
    from kenning.toolchain.benchtask import load_job
    from kenning.utils.errors import KenningError

    try:
        return load_job(scenario, measure or None)
    except KenningError as exc:
        raise Exit(f"error: {exc}", code=2) from exc


def _build(build: str, job: Job) -> Path:
    return Path(build) if build else Path("build") / job.scenario.name


@task(
    help={
        "scenario": f"scenario file (default: {DEMO})",
        "deployment": "deployment of the scenario (repeatable; default: all)",
        "arch": "board architecture to compile for: amd64 (default) or arm64",
        "executor": "auto (docker when a daemon answers), local or docker",
        "build": "folder holding models/ (default: build/<scenario name>)",
    },
    iterable=["deployment"],
)
def compile(
    c: Context,
    scenario: str = DEMO,
    deployment: list[str] | None = None,
    arch: str = "amd64",
    executor: str = "auto",
    build: str = "",
) -> None:
    """Compile a scenario's deployments, each step in its pinned image."""
    from kenning.executors import select_executor
    from kenning.toolchain.compile import plan, run_plan
    from kenning.utils.errors import KenningError

    job = _job(scenario)
    names = list(deployment or []) or list(job.scenario.deployments)
    try:
        with select_executor(executor) as runner:
            for name in names:
                if name not in job.scenario.deployments:
                    raise Exit(f"error: {scenario} has no deployment '{name}'", code=2)
                planned = plan(job.scenario, job.models, name, _build(build, job), arch)
                artifact, records = run_plan(runner, planned, job.model_of(name),
                                             _build(build, job))  # fmt: skip
                where = ", ".join(f"{r.image or 'local'}" for r in records.values()) or "as given"
                print(f"== {name}: {artifact} (ran in: {where})")
    except KenningError as exc:
        raise Exit(f"compile failed: {exc}", code=1) from exc


@task(
    help={
        "scenario": f"scenario file (default: {DEMO})",
        "build": "output folder (default: build/<scenario name>)",
        "epochs": "training epochs (default: the scenario's)",
        "executor": "auto (docker when a daemon answers), local or docker",
    }
)
def train(
    c: Context, scenario: str = DEMO, build: str = "", epochs: int = 0, executor: str = "local"
) -> None:
    """Train the scenario's models (those with `train:`), each in its framework's image."""
    from kenning.executors import select_executor
    from kenning.toolchain.training import train_models, with_epochs
    from kenning.utils.errors import KenningError

    job = with_epochs(_job(scenario), epochs)
    try:
        with select_executor(executor) as runner:
            train_models(runner, job, _build(build, job))
    except KenningError as exc:
        raise Exit(f"training failed: {exc}", code=1) from exc
    print(f"== models in {_build(build, job) / 'models'}")


@task(
    help={
        "scenario": f"scenario file (default: {DEMO}, the digits demo)",
        "build": "output folder (default: build/<scenario name>)",
        "epochs": "training epochs (default: the scenario's)",
        "executor": "where training and compiling run: local (default), docker or auto",
    }
)
def demo(
    c: Context, scenario: str = DEMO, build: str = "", epochs: int = 0, executor: str = "local"
) -> None:
    """The main job: train, compile every way, benchmark on the local board, render the report."""
    from kenning.executors import select_executor
    from kenning.toolchain.runner import run_scenario
    from kenning.toolchain.training import with_epochs
    from kenning.utils.errors import KenningError

    job = with_epochs(_job(scenario), epochs)
    try:
        with select_executor(executor) as runner:
            report = run_scenario(runner, job, _build(build, job))
    except KenningError as exc:
        raise Exit(f"demo failed: {exc}", code=1) from exc
    print(f"== report: {report.resolve()}")


@task(
    help={
        "scenario": f"scenario file (default: {DEMO})",
        "board": "board name or tag (repeatable; default: the scenario's boards)",
        "deployment": "deployment to bench (repeatable; default: every one the board runs)",
        "executor": "where compiling runs: auto (docker when a daemon answers), local, docker",
        "build": "folder holding models/ from `invoke train` (default: build/<scenario name>)",
        "resume": "continue partial results instead of starting again",
        "trust_host_key": "accept (and record in known_hosts) a board's unknown SSH host key",
        "keep_board_files": "keep each run's folder on SSH boards (its path is logged); "
        "also KENNING_KEEP_BOARD_FILES=1",
        "warmup": "inferences run and discarded before measuring (default: the scenario's, 10)",
        "min_samples": "measure at least this many samples, looping over the data (default "
        "the scenario's, 1000; p99 needs 662)",
        "min_duration": "... and for at least this many seconds (default 0)",
        "sample_seed": "seed of the sample order (default 0)",
        "percentiles": "percentiles to report, comma-separated (default 50,90,99)",
        "workers": "boards benched at once (default 0: all of them; 1: one after another)",
    },
    iterable=["board", "deployment"],
)
def bench(
    c: Context,
    scenario: str = DEMO,
    board: list[str] | None = None,
    deployment: list[str] | None = None,
    executor: str = "auto",
    build: str = "",
    resume: bool = False,
    trust_host_key: bool = False,
    keep_board_files: bool = False,
    warmup: int = -1,
    min_samples: int = 0,
    min_duration: float = -1.0,
    sample_seed: int = -1,
    percentiles: str = "",
    workers: int = 0,
) -> None:
    """Compile for the boards, benchmark there through the protocol, and render one report."""
    from kenning.executors import select_executor
    from kenning.toolchain.benchtask import resolve_boards, run_bench
    from kenning.utils.errors import KenningError

    given = {"warmup": warmup if warmup >= 0 else None, "min_samples": min_samples or None,
             "min_duration_s": min_duration if min_duration >= 0 else None,
             "seed": sample_seed if sample_seed >= 0 else None,
             "percentiles": [float(q) for q in percentiles.split(",") if q] or None}  # fmt: skip
    try:
        job = _job(scenario, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise Exit(f"error: --percentiles: {exc}", code=2) from exc
    if workers < 0:
        raise Exit(f"error: --workers {workers}: give 0 (every board at once) or more", code=2)
    try:
        boards = resolve_boards(list(board or []) or job.scenario.boards,
                                trust_host_key=trust_host_key,
                                keep_files=keep_board_files or None)  # fmt: skip
        with select_executor(executor) as runner:
            report, results = run_bench(runner, job, _build(build, job), boards,
                                        list(deployment or []), resume=resume,
                                        workers=workers)  # fmt: skip
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
        print(format_boards(inventory, color=sys.stdout.isatty()), end="")
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
        str(p) for p in Path("build/digits/results").rglob("*.json")
    )
    if not files:
        raise Exit("no results files: pass --results FILE or run `invoke demo` first", code=1)
    _run(c, ["kenning.scenarios.render_report", *files, name, out])

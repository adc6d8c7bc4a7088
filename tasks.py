"""invoke tasks: thin wrappers over kenning's scenarios and library code.

Run ``invoke --list`` to see them and ``invoke --help TASK`` for a task's options.
"""

from __future__ import annotations

import shlex
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Collection, Context, Exit, task

if TYPE_CHECKING:
    from kenning.toolchain.run.job import Job

PY = sys.executable


def _run(c: Context, args: list[str]) -> None:
    result = c.run(shlex.join([PY, "-m", *args]), warn=True, pty=sys.stdout.isatty())
    if result is None or result.exited != 0:
        raise Exit(f"step failed: python -m {' '.join(args)}", code=1)


DEMO = "scenarios/digits.yaml"


def _job(scenario: str, **measure: object) -> Job:
    """The checked scenario (every problem of the file at once, before any work)."""
    from kenning.toolchain.run.benchtask import load_job
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
    from kenning.toolchain.run.compile import run_plan
    from kenning.utils.errors import KenningError

    job = _job(scenario)
    names = list(deployment or []) or list(job.scenario.deployments)
    try:
        with select_executor(executor) as runner:
            for name in names:
                if name not in job.scenario.deployments:
                    raise Exit(f"error: {scenario} has no deployment '{name}'", code=2)
                planned = job.plan(name, _build(build, job), arch)
                artifact, records = run_plan(runner, planned, _build(build, job))
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
    from kenning.toolchain.run.training import train_models, with_epochs
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
    from kenning.toolchain.run.runner import run_scenario
    from kenning.toolchain.run.training import with_epochs
    from kenning.utils.errors import KenningError

    job = with_epochs(_job(scenario), epochs)
    try:
        with select_executor(executor) as runner:
            report = run_scenario(runner, job, _build(build, job))
    except KenningError as exc:
        raise Exit(f"demo failed: {exc}", code=1) from exc
    print(f"== report: {report.resolve()}")


def _farm_boards(coordinator: str, filters: list[str], places: int, priority: float,
                 wait: float, lease_timeout: float, trust_host_key: bool,
                 keep_files: bool | None) -> Any:  # fmt: skip
    """Boards held from the farm for the run (``invoke bench --farm``)."""
    from kenning.farm import parse_filters
    from kenning.toolchain.run.boardchoice import resolve_boards
    from kenning.toolchain.run.farmboards import FarmSettings, farm_boards

    if not filters:
        raise Exit("error: --farm needs --board tag filters, e.g. --board arch=arm64", code=2)
    if places < 0 or wait <= 0 or lease_timeout <= 0:
        raise Exit("error: --places must be >= 0, --farm-wait and --lease-timeout > 0", code=2)
    settings = FarmSettings(coordinator, parse_filters(filters), places, priority, wait,
                            lease_timeout)  # fmt: skip
    return farm_boards(settings, lambda name: resolve_boards(
        [name], trust_host_key=trust_host_key, keep_files=keep_files)[0])  # fmt: skip


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
        "the scenario's, 1000; and the calls p99 needs: 662)",
        "min_duration": "... and for at least this many seconds (default 1: the load check "
        "needs a second)",
        "repeats": "runs of each deployment, each in its own process (default the scenario's, "
        "3: comparisons and reproduce judge run-to-run noise from 3 per side)",
        "sample_seed": "seed of the sample order (default 0)",
        "percentiles": "percentiles to report, comma-separated (default 50,90,99)",
        "workers": "boards benched at once (default 0: all of them; 1: one after another)",
        "farm": "labgrid coordinator HOST:PORT: take boards from the farm; --board then gives "
        "tag filters (arch=arm64)",
        "places": "with --farm: the most places to hold (default 0: every matching one free)",
        "priority": "with --farm: reservation priority (higher is served first)",
        "queue_wait": "with --farm: seconds to wait in the queue for a place (default 600)",
        "lease_timeout": "with --farm: seconds after which a dead run's places are freed "
        "(default 60)",
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
    repeats: int = 0,
    workers: int = 0,
    farm: str = "",
    places: int = 0,
    priority: float = 0.0,
    queue_wait: float = 600.0,
    lease_timeout: float = 60.0,
) -> None:
    """Compile for the boards, benchmark there through the protocol, and render one report."""
    from kenning.executors import select_executor
    from kenning.toolchain.run.benchtask import run_bench
    from kenning.toolchain.run.boardchoice import resolve_boards
    from kenning.utils.errors import KenningError

    given = {"warmup": warmup if warmup >= 0 else None, "min_samples": min_samples or None,
             "min_duration_s": min_duration if min_duration >= 0 else None,
             "seed": sample_seed if sample_seed >= 0 else None,
             "percentiles": [float(q) for q in percentiles.split(",") if q] or None,
             "repeats": repeats or None}  # fmt: skip
    try:
        job = _job(scenario, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise Exit(f"error: --percentiles: {exc}", code=2) from exc
    if workers < 0:
        raise Exit(f"error: --workers {workers}: give 0 (every board at once) or more", code=2)
    try:
        with ExitStack() as stack:
            if farm:
                boards = stack.enter_context(_farm_boards(
                    farm, list(board or []), places, priority, queue_wait, lease_timeout,
                    trust_host_key, keep_board_files or None))  # fmt: skip
            else:
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
        "farm": "list the places of the labgrid coordinator HOST:PORT instead, with holders",
    },
    iterable=["board"],
)
def boards(
    c: Context,
    check: bool = False,
    board: list[str] | None = None,
    trust_host_key: bool = False,
    farm: str = "",
) -> None:
    """List the boards of inventory.yaml; --check probes them; --farm lists a farm's places."""
    from kenning.boards import check_boards, format_boards, format_table, load_inventory
    from kenning.utils.errors import KenningError

    if farm:
        from kenning.farm import FarmSession, format_places

        try:
            with FarmSession(farm) as session:
                print(format_places(session.places(), session.reservations()), end="")
        except KenningError as exc:
            raise Exit(f"error: {exc}", code=1) from exc
        return
    try:
        inventory = load_inventory()
    except KenningError as exc:
        raise Exit(f"error: {exc}", code=1) from exc
    if not check:
        print(format_boards(inventory, color=sys.stdout.isatty()), end="")
        return
    try:
        statuses = check_boards(inventory, list(board or []) or None,
                                trust_unknown_host=trust_host_key)  # fmt: skip
    except KenningError as exc:
        raise Exit(f"error: {exc}", code=1) from exc
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
    """Re-run the steps recorded in RESULTS (same images) and compare with it.

    Exits 0 when REPRODUCED, 1 when NOT REPRODUCED (a check failed), 3 when UNVERIFIED (none
    failed, but one could not be made: too few runs, or a run that is not VALID).
    """
    from kenning.toolchain.reproduce.rerun import reproduce as run_again
    from kenning.toolchain.reproduce.verdict import format_verdict
    from kenning.utils.errors import KenningError

    try:
        verdict = run_again(
            Path(results), workspace=Path(workspace) if workspace else None, latency_band=band
        )
    except KenningError as exc:
        raise Exit(f"reproduce failed: {exc}", code=1) from exc
    print(format_verdict(verdict), end="")
    if verdict.state == "UNVERIFIED":
        raise Exit(code=3)  # nothing failed, but not everything could be checked
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
    from kenning.toolchain.images.catalogue import CATALOGUE

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


# The tasks above are the top level; the farm's tasks are `invoke farm.NAME`.
ns = Collection.from_module(sys.modules[__name__])


@task(
    name="export",
    help={
        "out": "folder for exporter.yaml and places.yaml (default: build/farm)",
        "board": "only this board (repeatable; default: every board but local ones)",
        "exporter": "exporter name the places match (default: * = any exporter)",
        "coordinator": "also create the places on this coordinator (HOST:PORT)",
    },
    iterable=["board"],
)
def farm_export(
    c: Context,
    out: str = "build/farm",
    board: list[str] | None = None,
    exporter: str = "*",
    coordinator: str = "",
) -> None:
    """Write a labgrid exporter configuration and the places of the inventory's boards."""
    from kenning.boards import load_inventory
    from kenning.farm import FarmSession, apply_places, export_inventory, write_export
    from kenning.utils.errors import KenningError

    try:
        export = export_inventory(load_inventory(), board or None, exporter)
        exporter_file, places_file = write_export(export, Path(out))
        for name, why in export.skipped.items():
            print(f"-- {name}: not exported ({why})")
        print(f"== exporter: {exporter_file} (labgrid-exporter -c COORDINATOR {exporter_file})")
        print(f"== places: {places_file}")
        if coordinator:
            with FarmSession(coordinator) as session:
                changes = apply_places(session, export.places)
            print("\n".join(f"   {line}" for line in changes) or "   places up to date")
    except KenningError as exc:
        raise Exit(f"error: {exc}", code=1) from exc


@task(name="reap", help={"coordinator": "the coordinator (HOST:PORT; default $LG_COORDINATOR)"})
def farm_reap(c: Context, coordinator: str = "") -> None:
    """Release the places whose kenning lease expired (their holder died)."""
    from kenning.farm import FarmSession, reap_stale
    from kenning.utils.errors import KenningError

    try:
        with FarmSession(coordinator or None) as session:
            reaped = reap_stale(session)
    except KenningError as exc:
        raise Exit(f"error: {exc}", code=1) from exc
    print(f"released: {', '.join(reaped)}" if reaped else "no stale lease")


ns.add_collection(Collection("farm", farm_export, farm_reap))

"""Benchmark one deployment on one board: compile for its architecture, serve, measure.

The steps: compile the trained model for the board's architecture (in the compile image
when the executor is Docker), start ``inference_server`` on the board (:class:`Board`
implementations: :class:`kenning.boards.local.LocalBoard`, and boards reached over
SSH), run ``inference_tester`` on this host against it with the artifact, and keep the
records of every step in the results file, so ``invoke reproduce`` can run them again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kenning.boards.base import Board, Endpoint
from kenning.core.measure import MeasureSettings
from kenning.core.results import load_results, write_atomically
from kenning.executors.base import ExecutionRecord, Executor
from kenning.executors.boarderrors import BoardError
from kenning.executors.errors import ExecutionError
from kenning.executors.local import LocalExecutor
from kenning.toolchain.compile import COMPILERS, run_compile
from kenning.toolchain.demo_models import DIGITS, MODELS, Artifact, model_path
from kenning.toolchain.steps import Step, paths
from kenning.utils.errors import KenningError

log = logging.getLogger("kenning.bench")

#: TVM's --target for each board architecture
TVM_TARGETS = {"amd64": "llvm", "arm64": "aarch64"}


def attach(
    results_path: Path, steps: Mapping[str, ExecutionRecord], extra: Mapping[str, Any]
) -> None:
    """Store the steps' records (in order) and ``extra`` in a results file's provenance."""
    results = load_results(results_path)
    results.provenance.update(extra)
    results.provenance["steps"] = {k: v.model_dump(mode="json") for k, v in steps.items()}
    write_atomically(results_path, results.dump())


def compile_for(
    executor: Executor, board: Board, build: Path, artifact: Artifact
) -> tuple[Path, dict[str, ExecutionRecord]]:
    """Compile ``artifact`` for ``board``'s architecture; return it and the steps' records."""
    target = TVM_TARGETS.get(board.arch, "") if artifact.compiler == "tvm" else ""
    return run_compile(
        executor, artifact.model, artifact.compiler, target, build,
        args=artifact.compiler_args, name=f"{artifact.name}-{board.arch}",
    )  # fmt: skip


def tester_step(
    artifact: Artifact, compiled: Path, build: Path, out: Path, endpoint: Endpoint,
    extra: Sequence[str] = (),
) -> Step:  # fmt: skip
    """The ``inference_tester`` step that benchmarks ``compiled`` on a server.

    The server's address is a parameter (``{host}``, ``{port}``): a re-run fills in the
    address of the server it starts.
    """
    model = MODELS[artifact.model]
    source = model_path(build, model)
    template = [
        "python", "-m", "kenning.scenarios.inference_tester", model.wrapper, "precompiled",
        artifact.runtime, DIGITS, str(out), "--protocol-cls", "network",
        "--host", "{host}", "--port", "{port}",
        "--model-path", str(source), "--compiled-model-path", str(compiled), *extra,
    ]  # fmt: skip
    return Step("benchmark", "", template, {"host": endpoint.host, "port": str(endpoint.port)},
                inputs=paths(source, compiled), outputs=paths(out))  # fmt: skip


def results_path(build: Path, board: Board, artifact: Artifact) -> Path:
    """Where the results of ``artifact`` on ``board`` go."""
    return build / "results" / board.name / f"{artifact.name}.json"


def bench_artifact(
    executor: Executor,
    board: Board,
    build: Path,
    artifact: Artifact,
    before: Mapping[str, ExecutionRecord] | None = None,
    *,
    resume: bool = False,
    measure: MeasureSettings | None = None,
) -> Path:
    """Compile ``artifact`` for ``board``, benchmark it there through the protocol.

    Parameters
    ----------
    executor : Executor
        Runs the compile steps (the benchmark itself runs on this host, locally).
    board : Board
        Where the server runs.
    build : Path
        Folder with ``models/``; artifacts, results and board logs are written under it.
    artifact : Artifact
        What to deploy.
    before : mapping, optional
        Records of earlier steps (training) to keep with the results.
    resume : bool
        Continue a partial results file instead of starting again.
    measure : MeasureSettings, optional
        Warm-up, run length and percentiles (default: the scenarios' defaults).

    Returns
    -------
    Path
        The results file.

    Raises
    ------
    KenningError
        When a step fails; completed samples stay in the results file.
    """
    out = results_path(build, board, artifact)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiled, records = compile_for(executor, board, build, artifact)
    suffix = COMPILERS[artifact.compiler].suffix
    folder = build / "boards" / board.name / artifact.name
    extra = ["--resume"] if resume and out.is_file() else []
    extra += (measure or MeasureSettings()).to_argv()
    failure: ExecutionError | None = None
    with board.serve(artifact.runtime, suffix, folder) as endpoint:
        try:
            record = tester_step(artifact, compiled, build, out, endpoint, extra).run(
                LocalExecutor()
            )
        except ExecutionError as exc:  # raised once the board is stopped and its log fetched
            failure = exc
    if failure is not None:
        kept = _attach_partial(out, before, records, board, artifact)
        server_log = folder / "server.log"
        tail = server_log.read_text(errors="replace").splitlines() if server_log.is_file() else []
        why = failure.stderr_tail[-1] if failure.stderr_tail else f"exit {failure.exit_code}"
        raise BoardError(
            board.name, f"benchmarking {artifact.name}",
            f"inference_tester failed ({why}); {kept} completed samples kept in {out}; "
            "continue with `invoke bench --resume`",
            tail[-5:],
        ) from failure  # fmt: skip
    attach(out, {**(before or {}), **records, "benchmark": record},
           _extra(board, artifact))  # fmt: skip
    return out


def _extra(board: Board, artifact: Artifact) -> dict[str, Any]:
    suffix = COMPILERS[artifact.compiler].suffix
    return {"board": board.name, "artifact": artifact.name,
            "server": {**board.describe(), "runtime": artifact.runtime,
                       "model_suffix": suffix}}  # fmt: skip


def _attach_partial(
    out: Path, before: Mapping[str, ExecutionRecord] | None,
    records: Mapping[str, ExecutionRecord], board: Board, artifact: Artifact,
) -> int:  # fmt: skip
    """Add provenance to a partial results file; return how many samples it keeps."""
    if not out.is_file():
        return 0
    try:
        attach(out, {**(before or {}), **records}, _extra(board, artifact))
        return len(load_results(out).samples)
    except KenningError as exc:  # the results file itself is unreadable: leave it as it is
        log.warning("could not add provenance to %s: %s", out, exc)
        return 0

"""Re-run the steps recorded in a results file, in the same images, and compare.

A results file written by ``invoke demo`` or ``invoke bench`` keeps, per step, the command
with its template, parameters, inputs and outputs (:class:`kenning.toolchain.run.steps.Step`),
the executor, the image and its ID and lock hashes (:class:`ExecutionRecord`). Here every
step runs again from those fields in a fresh workspace (``build/reproduce/<name>/`` by
default: the step's relative outputs land there, inputs no earlier step makes are copied in,
the original files stay untouched), the benchmark against a freshly started server on the
same board (its host and port fill the step's parameters), and the new results are
compared with the old:

* environment: a step whose image was pushed (``invoke images --push``) re-runs in exactly
  that image, pulled by its digest when this machine does not have it; one that was never
  pushed re-runs in the image now built under its name (a different one is named, with the
  lock file that changed) and the verdict warns that no other machine can reproduce it;
  local steps compare the kenning commit (a difference is a warning: the code is this one);
* accuracy and every prediction: equal (the runtimes are deterministic);
* every run's verdict: latency is compared only between VALID runs;
* the inference figure: the original's repeated runs (``invoke bench --repeats``, 3 by
  default) against as many re-runs, with an interval from the variation between runs
  (:func:`kenning.core.abtest.compare_runs`): "within noise" or "slower by X %"; outside a
  stated band (default ±50 %) it fails; with fewer than 3 runs a side it is not judged.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kenning.boards.base import Board
from kenning.core.results import Results, load_results
from kenning.core.runset import run_set
from kenning.executors.base import ExecutionRecord, Executor
from kenning.toolchain.reproduce.image import published_image
from kenning.toolchain.reproduce.inputs import check_inputs, copy_inputs
from kenning.toolchain.reproduce.verdict import LATENCY_BAND, Check, Verdict, compare
from kenning.toolchain.run.steps import STEP_DEADLINE_S, Step
from kenning.utils.errors import ConfigurationError, KenningError, ResultsError


def _executor_for(record: ExecutionRecord) -> Executor:
    if record.executor == "docker":
        from kenning.executors.docker import DockerExecutor

        return DockerExecutor()
    from kenning.executors.local import LocalExecutor

    return LocalExecutor()


def _results_output(record: ExecutionRecord, original: Path) -> str:
    """Which output of the last step is the results file being reproduced."""
    target = original.resolve()
    for item in record.outputs:
        if (Path(record.workdir) / item).resolve() == target:
            return item
    raise ResultsError(
        f"the last step of {original} does not write it (was the file moved?); "
        "reproduce a results file where its task wrote it"
    )


#: marks a folder this module made, so that only such folders are emptied again
_MARKER = ".kenning-reproduce"


def _fresh_workspace(folder: Path) -> Path:
    """An empty ``folder``; one left by an earlier reproduction is emptied first.

    Raises
    ------
    ConfigurationError
        If ``folder`` holds files that a reproduction did not make.
    """
    folder = folder.resolve()
    if folder.exists():
        if any(folder.iterdir()) and not (folder / _MARKER).is_file():
            raise ConfigurationError(
                f"workspace {folder} is not empty and was not made by `invoke reproduce`; "
                "choose another --workspace"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / _MARKER).touch()
    return folder


def reproduce(
    results: Path,
    *,
    workspace: Path | None = None,
    latency_band: float = LATENCY_BAND,
    board_for: Callable[[dict[str, Any]], Board] | None = None,
    client: Any = None,
) -> Verdict:
    """Re-run the steps recorded in ``results`` and compare the outcome with it.

    Parameters
    ----------
    results : Path
        A results file written by ``invoke demo`` or ``invoke bench``.
    workspace : Path, optional
        Where the steps run again (default: ``build/reproduce/<file stem>``).
    latency_band : float
        Relative band latency p50 must stay within.
    board_for : callable, optional
        Returns the board to serve on from the recorded ``server`` entry (default: this
        machine for local results, the inventory's board of the recorded name for SSH
        boards).
    client : docker.DockerClient, optional
        A connected client for image checks.

    Returns
    -------
    Verdict
        The checks, in the order of the table.

    Raises
    ------
    ResultsError
        If the file cannot be read or records no steps.
    ConfigurationError
        If ``workspace`` holds files a reproduction did not make.
    """
    original = load_results(results)
    steps = {
        k: ExecutionRecord.model_validate(v)
        for k, v in (original.provenance.get("steps") or {}).items()
    }
    if not steps:
        raise ResultsError(
            f"{results} records no steps: only results of `invoke demo` or `invoke bench` "
            "can be reproduced"
        )
    if not all(record.outputs or record.inputs for record in steps.values()):
        raise ResultsError(
            f"{results} was written before kenning recorded its steps as data (inputs, "
            "outputs, parameters): run its `invoke bench` again to reproduce it"
        )
    workspace = _fresh_workspace(workspace or Path("build") / "reproduce" / results.stem)
    verdict = Verdict(results, None)
    images: dict[str, str | None] = {}
    for name, record in steps.items():
        images[name], checks = published_image(name, record, client)
        verdict.checks.extend(checks)
    last = list(steps)[-1]
    out_arg = _results_output(steps[last], results)
    made: set[str] = set()
    seen: set[str] = set()
    for name, record in steps.items():
        step = Step.from_record(name, record)
        copy_inputs(step, made, Path(record.workdir), workspace)
        rows = check_inputs(name, record, made, workspace, seen)
        verdict.checks.extend(rows)
        if any(row.reproduced == "missing" for row in rows):
            return verdict
        made.update(step.outputs)
        try:
            _run_step(step, record, workspace, original, board_for, images[name])
        except KenningError as exc:
            verdict.checks.append(
                Check(f"{name}: ran again", "exit 0", "failed", str(exc), ok=False)
            )
            return verdict
        verdict.checks.append(Check(f"{name}: ran again", "exit 0", "exit 0", "ran", ok=True))
    produced = [workspace / out_arg]
    originals = run_set(results, original)
    for number, (path, repeat) in enumerate(originals[1:], 2):
        try:
            produced.append(
                _run_repeat(path, repeat, workspace, original, board_for, images, made)
            )
        except KenningError as exc:
            verdict.checks.append(
                Check(f"run {number}: ran again", "exit 0", "failed", str(exc), ok=False)
            )
            return verdict
    verdict.reproduced = produced[0]
    verdict.checks.extend(
        compare([r for _, r in originals], [load_results(p) for p in produced], latency_band)
    )
    return verdict


def _run_repeat(
    path: Path,
    repeat: Results,
    workspace: Path,
    original: Results,
    board_for: Callable[[dict[str, Any]], Board] | None,
    images: dict[str, str | None],
    made: set[str],
) -> Path:
    """Run the benchmark step of one repeat of the original again; return its new results."""
    records = {
        k: ExecutionRecord.model_validate(v)
        for k, v in (repeat.provenance.get("steps") or {}).items()
    }
    if "benchmark" not in records:
        raise ResultsError(f"{path} records no benchmark step to run again")
    record = records["benchmark"]
    step = Step.from_record("benchmark", record)
    copy_inputs(step, made, Path(record.workdir), workspace)
    _run_step(step, record, workspace, original, board_for, images.get("benchmark"))
    return workspace / _results_output(record, path)


def _inventory_board(server: dict[str, Any]) -> Board:
    """The board a result was measured on: this machine, or the inventory's entry by name.

    Raises
    ------
    ConfigurationError
        If the inventory no longer has a board of that name.
    """
    name = str(server.get("name", "local"))
    if server.get("kind", "local") == "local":
        from kenning.boards.local import LocalBoard

        return LocalBoard(name)
    from kenning.toolchain.run.boardchoice import resolve_boards

    return resolve_boards([name])[0]


def _compiled_model(step: Step, workspace: Path) -> Path | None:
    """The artifact the benchmark step reads (its ``--compiled-model-path``), in ``workspace``."""
    words = step.argv()
    if "--compiled-model-path" not in words[:-1]:
        return None
    path = Path(words[words.index("--compiled-model-path") + 1])
    return path if path.is_absolute() else workspace / path


def _run_step(
    step: Step,
    record: ExecutionRecord,
    workspace: Path,
    original: Results,
    board_for: Callable[[dict[str, Any]], Board] | None,
    published: str | None = None,
) -> None:
    image = published or record.environment or record.image
    server = original.provenance.get("server")
    if not (server and "port" in step.parameters):
        with _executor_for(record) as executor:
            executor.run(step.argv(), image=image, workdir=workspace, timeout=STEP_DEADLINE_S)
        return
    board = (board_for or _inventory_board)(server)
    folder = workspace / "boards" / board.name / step.name
    suffix = str(server.get("model_suffix", "bin"))
    extra = [str(word) for word in server.get("runtime_args", [])]
    artifact = _compiled_model(step, workspace)
    with board.serve(str(server["runtime"]), suffix, folder, extra, artifact=artifact) as endpoint:
        values = endpoint.protocol_args()
        if endpoint.secret_file is not None:
            values["secret_file"] = str(endpoint.secret_file)
        argv = step.argv(values)
        with _executor_for(record) as executor:
            executor.run(argv, image=image, workdir=workspace, timeout=STEP_DEADLINE_S)

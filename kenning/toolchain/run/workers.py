"""Bench every board's deployments, one worker per board, the boards in parallel.

A board runs its deployments one after another (one server at a time on it); boards run at
once, each in its own thread, sharing the run's compiled artifacts (one compile per
architecture and deployment, :class:`~kenning.toolchain.run.artifacts.Artifacts`). Ctrl-C stops
every worker before its next deployment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kenning.boards.base import Board
from kenning.executors.base import ExecutionRecord, Executor
from kenning.executors.errors import ExecutionError
from kenning.toolchain.run.artifacts import Artifacts
from kenning.toolchain.run.bench import bench_deployment
from kenning.toolchain.run.job import Job
from kenning.utils.errors import ConfigurationError, KenningError

log = logging.getLogger("kenning.bench")


@dataclass
class BoardRuns:
    """What the workers produced: results and failures by label (``NAME on BOARD``)."""

    done: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, KenningError] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TakingTurns:
    """Lets boards of one kind run together and never beside a board of another kind."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._kind: str | None = None
        self._count = 0

    @contextmanager
    def turn(self, kind: str | None) -> Iterator[None]:
        """Wait until no board of another kind runs (``None``: a board elsewhere, at once)."""
        if kind is None:
            yield
            return
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0 or self._kind == kind)
            self._kind, self._count = kind, self._count + 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()


def bench_boards(
    executor: Executor,
    job: Job,
    build: Path,
    plan: Mapping[Board, Sequence[str]],
    *,
    before: Mapping[str, Mapping[str, ExecutionRecord]],
    references: Mapping[str, Path],
    refused: Mapping[str, KenningError],
    advance: Callable[[int], None],
    resume: bool = False,
    workers: int = 0,
) -> BoardRuns:
    """Run each board's deployments (``plan``), boards in parallel.

    Local and emulated boards (``on_this_machine``) take turns, a deployment at a time:
    QEMU would be load beside the local board's measurement (boards of one kind still run
    together: emulated time is an instruction count, and local boards stand in for boards).

    Parameters
    ----------
    workers : int
        Boards benched at once (0: all of them; 1: one after another).

    Returns
    -------
    BoardRuns
        Results and failures of every deployment on every board.
    """
    runs, artifacts, stop = BoardRuns(), Artifacts(), threading.Event()
    this_machine = TakingTurns()
    several = len(plan) > 1

    def one_board(board: Board) -> None:
        for name in plan[board]:
            if stop.is_set():
                return
            key = f"{name} on {board.name}" if several else name
            source = str(job.scenario.deployments[name].model)
            try:
                if source in refused:  # the same input would be refused again: say so once
                    raise ConfigurationError(
                        f"not run: the reference run of model {source} refused its input"
                    )
                with this_machine.turn(board.on_this_machine):
                    path = bench_deployment(
                        executor,
                        board,
                        build,
                        job,
                        name,
                        before.get(source),
                        resume=resume,
                        reference=references.get(source),
                        artifacts=artifacts,
                    )
                with runs.lock:
                    runs.done[key] = path
            except KenningError as exc:
                refusal = exc.refusal() if isinstance(exc, ExecutionError) else None
                if refusal is not None:  # a step refused its input: its reason, not its command
                    log.debug("%s on %s: %s", name, board.name, exc)
                    exc = ConfigurationError(refusal)
                exc = job.as_given(exc, source, build)
                # said once, in the run's closing error; here only that it happened
                log.info("%s on %s failed (reported at the end)", name, board.name)
                with runs.lock:
                    runs.failures[key] = exc
            advance(1)

    count = min(workers or len(plan), len(plan)) or 1
    if count == 1:
        for board in plan:
            one_board(board)
    else:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="bench") as pool:
            futures = [pool.submit(one_board, board) for board in plan]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                stop.set()  # Ctrl-C: no worker starts another deployment
                raise
    order = [f"{n} on {b.name}" if several else n for b, names in plan.items() for n in names]
    runs.done = {key: runs.done[key] for key in order if key in runs.done}  # as planned
    return runs

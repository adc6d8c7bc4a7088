"""A recorder that keeps a results file current and never loses finished samples.

:class:`ResultsRecorder` writes the file atomically at the start (so an unwritable path fails
before any work), every few seconds while samples arrive, and at the end, marking the run
``partial`` or ``failed`` if it did not complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kenning.core.monitor import SystemMonitor
from kenning.core.resultparts import SampleResult, TimeSeries
from kenning.core.results import Results, now, write_atomically


class ResultsRecorder:
    """Collect samples into a :class:`Results` and keep the file on disk current.

    Parameters
    ----------
    path : Path
        The results file; written at once, so a bad path fails early. An existing file
        (an earlier run) is kept until this run has completed a sample.
    results : Results
        The metadata of the run, with no samples yet.
    flush_interval : float
        Seconds between rewrites while samples arrive.
    """

    def __init__(self, path: Path, results: Results, flush_interval: float = 2.0) -> None:
        self.path = Path(path)
        self.results = results
        self.flush_interval = flush_interval
        #: when set, each write stores the monitor's series so far as ``system``
        self.monitor: SystemMonitor | None = None
        self._last_flush = time.monotonic()
        #: an existing file is replaced only once this run has a sample to keep
        self.replaces = self.path.exists()
        #: every output of each distinct sample, by dataset index (for output agreement)
        self.outputs: dict[int, list[np.ndarray]] = {}
        #: the outputs' names, in the model's order (default ``output_0``, ...)
        self.output_names: list[str] = []
        self.flush()

    @staticmethod
    def now() -> str:
        """The current time, ISO 8601 in UTC."""
        return now()

    def add(self, sample: SampleResult) -> None:
        """Record one finished sample, rewriting the file when it is due."""
        self.results.samples.append(sample)
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def capture(self, index: int, outputs: Sequence[np.ndarray], limit: int = 2000) -> None:
        """Keep every output of dataset sample ``index`` (its first time; ``limit`` samples)."""
        if index not in self.outputs and len(self.outputs) < limit:
            self.outputs[index] = [np.asarray(o, dtype=np.float32).ravel() for o in outputs]

    def refresh(self) -> None:
        """Bring what the run measures besides samples (load series) into the results."""
        if self.monitor is not None:
            if self.results.status == "running":
                self.monitor.extend_window()  # a run cut short keeps what it measured so far
            self.results.system = TimeSeries(**self.monitor.snapshot())

    def flush(self) -> None:
        """Write the file as it stands (an earlier file stays until there is a sample)."""
        if self.replaces and not self.results.samples:
            return
        self.refresh()
        write_atomically(self.path, self.results.dump())
        self._last_flush = time.monotonic()

    def finish(
        self, status: Literal["complete", "partial", "failed"], error: str | None = None
    ) -> Results:
        """Compute metrics, figures and the verdict, mark the status and write the final file."""
        self.results.status = status
        self.results.error = error
        self.refresh()
        self.results.compute_metrics()
        if self.outputs and (self.results.samples or not self.replaces):
            self.results.outputs_file = self._write_outputs().name
        self.flush()
        return self.results

    def _write_outputs(self) -> Path:
        """``<results>.outputs.npz``: the captured outputs, written atomically.

        It holds ``indices`` (dataset index of each row), ``names`` and, for output ``k``,
        ``output_k`` (one row per sample, the output flattened).
        """
        target = outputs_path(self.path)
        partial = target.with_name(f".{target.name}.partial.npz")
        order = sorted(self.outputs)
        count = min(len(self.outputs[i]) for i in order)
        names = (self.output_names + [f"output_{k}" for k in range(count)])[:count]
        arrays: dict[str, Any] = {
            "indices": np.asarray(order, np.int64),
            "names": np.asarray(names),
        }
        for k in range(count):
            rows = [self.outputs[i][k] for i in order]
            if len({len(r) for r in rows}) == 1:
                arrays[f"output_{k}"] = np.stack(rows)
            else:  # a free output shape: rows of different sizes cannot be compared
                arrays[f"output_{k}"] = np.zeros((len(rows), 0), np.float32)
        np.savez(partial, **arrays)
        os.replace(partial, target)
        return target


def outputs_path(results_path: Path) -> Path:
    """Where the outputs captured by a run of ``results_path`` are kept."""
    return results_path.with_name(results_path.name.removesuffix(".json") + ".outputs.npz")

"""The measured inference loop shared by every scenario that evaluates a model.

It feeds validation batches to an inference function, times each call,
records per-sample top-5 predictions, and keeps the results file current so a
run that dies halfway keeps every finished sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kenning.core.dataset import Dataset, Subset
from kenning.core.errors import KenningError
from kenning.core.measurements import SystemMonitor
from kenning.core.results import Results, ResultsRecorder, SampleResult
from kenning.utils.progress import progress


@dataclass
class Outcome:
    """What one inference call produced.

    ``time_s`` overrides the wall-clock duration of the call (a protocol measures
    it between two messages); ``target_time_s`` is the target's own measurement.
    """

    outputs: np.ndarray
    time_s: float | None = None
    target_time_s: float | None = None


InferFn = Callable[[np.ndarray], Outcome]


class BenchmarkError(KenningError):
    """Inference failed on a sample; the finished ones are kept in the results file."""

    def __init__(self, message: str, sample_index: int, completed: int) -> None:
        self.sample_index = sample_index
        self.completed = completed
        super().__init__(message)


def run_benchmark(
    dataset: Dataset,
    infer: InferFn,
    recorder: ResultsRecorder,
    subset: Subset = "validation",
    monitor_interval: float = 0.1,
    skip: frozenset[int] = frozenset(),
) -> Results:
    """Run ``infer`` over a dataset subset and record everything.

    Batches whose samples are all in ``skip`` (already in the recorder, from a run being
    resumed) are not run again.

    Raises
    ------
    BenchmarkError
        If inference fails; the results file then holds the completed samples
        and is marked ``partial`` (or ``failed`` when none completed).
    """
    total = len(dataset.subset_indices(subset))
    monitor = SystemMonitor(monitor_interval).start()
    recorder.monitor = monitor
    index = -1
    try:
        with progress("inference", total) as advance:
            for batch_no, (indices, inputs, labels) in enumerate(dataset.iter_batches(subset)):
                index = int(indices[0])
                if skip and all(int(i) in skip for i in indices):
                    advance(len(indices))
                    continue
                start = time.perf_counter()
                outcome = infer(inputs)
                elapsed = time.perf_counter() - start
                finished = round(time.monotonic() - monitor.start_time, 6)
                top = dataset.evaluate(outcome.outputs)
                for i, sample in enumerate(indices):
                    recorder.add(
                        SampleResult(
                            index=int(sample),
                            ground_truth=int(labels[i]),
                            predictions=[int(c) for c in top[i]],
                            time_s=outcome.time_s if outcome.time_s is not None else elapsed,
                            target_time_s=outcome.target_time_s,
                            batch=batch_no,
                            timestamp_s=finished,
                        )
                    )
                advance(len(indices))
    except (Exception, KeyboardInterrupt) as exc:
        monitor.stop()
        done = len(recorder.results.samples)
        reason = f"inference failed on sample {index}: {exc}"
        recorder.finish("partial" if done else "failed", reason)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise BenchmarkError(
            f"{reason}; {done} completed samples kept in {recorder.path}", index, done
        ) from exc
    monitor.stop()
    return recorder.finish("complete")

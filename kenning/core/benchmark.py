"""The measured inference loop shared by every scenario that evaluates a model.

It warms up, then feeds batches of the validation subset, in a seeded order and looping over
the data until the run is long enough (:class:`~kenning.core.measure.MeasureSettings`), to an
inference function that reports the figures it can time (:class:`Outcome`); the loop itself
times ``end_to_end`` around each call. Every sample goes to the results file as it finishes,
so a run that dies halfway keeps what it measured, and a resumed run continues at the first
sample it lacks.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from kenning.core.dataset import Dataset, Subset
from kenning.core.detection import detection_rows
from kenning.core.measure import MeasureSettings, WarmupRecord, sample_order
from kenning.core.monitor import SystemMonitor
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import Results, SampleResult
from kenning.utils.errors import KenningError
from kenning.utils.progress import progress


@dataclass
class Outcome:
    """What one inference call produced, and the figures its caller could time.

    ``inference_s`` is the runtime call alone on the machine that ran it; ``end_to_end_s``
    the host's time from starting preprocessing to holding the output (when not given, the
    loop times the whole call); ``ok_interval_s`` the seed protocol's diagnostic interval.
    ``outputs`` is the scored output, postprocessed (what the dataset evaluates);
    ``tensors`` every output of the model as it came out (what agreement compares).
    """

    outputs: np.ndarray
    inference_s: float
    preprocess_s: float | None = None
    postprocess_s: float | None = None
    end_to_end_s: float | None = None
    ok_interval_s: float | None = None
    tensors: list[np.ndarray] | None = None

    def sample_outputs(self, row: int) -> list[np.ndarray]:
        """Every output of batch row ``row`` (the scored output alone when no tensors)."""
        if not self.tensors:
            return [self.outputs[row]]
        return [t[row] if t.ndim and len(t) > row else t for t in self.tensors]


InferFn = Callable[[np.ndarray], Outcome]


class BenchmarkError(KenningError):
    """Inference failed on a sample; the finished ones are kept in the results file."""

    def __init__(self, message: str, sample_index: int, completed: int) -> None:
        self.sample_index = sample_index
        self.completed = completed
        super().__init__(message)


def _batches(
    dataset: Dataset, indices: np.ndarray, seed: int, start: int
) -> Iterator[tuple[int, list[tuple[int, int]], np.ndarray, np.ndarray]]:
    """``(first seq, [(pass, index)], inputs, labels)`` from sequence position ``start`` on."""
    size = dataset.batch_size
    order = itertools.islice(sample_order(indices, seed), start, None)
    seq = start
    while True:
        chunk = list(itertools.islice(order, size))
        picked = [index for _, index in chunk]
        yield (
            seq,
            chunk,
            dataset.prepare_input_samples([dataset.dataX[i] for i in picked]),
            dataset.prepare_output_samples([dataset.dataY[i] for i in picked]),
        )
        seq += len(chunk)


def warm_up(dataset: Dataset, infer: InferFn, settings: MeasureSettings) -> WarmupRecord:
    """Run and discard inferences until ``warmup`` calls and ``warmup_s`` seconds are done."""
    indices = dataset.subset_indices(settings.subset)
    count, start = 0, time.perf_counter()
    batches = _batches(dataset, indices, settings.seed + 1_000_003, 0)  # not the measured order
    while count < settings.warmup or time.perf_counter() - start < settings.warmup_s:
        _, _, inputs, _ = next(batches)
        infer(inputs)
        count += 1
    return WarmupRecord(count=count, seconds=round(time.perf_counter() - start, 6))


class Phases(Protocol):
    """What a session does when the measured phase begins and ends (a target marks it too)."""

    def begin_measuring(self) -> None: ...

    def end_measuring(self) -> None: ...


def _earlier_seconds(results: Results) -> float:
    """Seconds measured by the earlier parts of a resumed run."""
    total = 0.0
    for part in results.parts:
        s = part.system
        if s is not None and s.window_start_s is not None and s.window_end_s is not None:
            total += s.window_end_s - s.window_start_s
    return total


def run_benchmark(
    dataset: Dataset,
    infer: InferFn,
    recorder: ResultsRecorder,
    settings: MeasureSettings | None = None,
    subset: Subset | None = None,
    monitor_interval: float = 0.2,
    *,
    phases: Phases | None = None,
    monitor: SystemMonitor | None = None,
) -> Results:
    """Warm up, then run ``infer`` until the run is complete, recording every sample.

    Samples already in the recorder (a run being resumed) are kept; measuring continues at
    the first sequence position they lack. The load monitor's window (what the verdict
    judges) is the measured phase alone: it begins after warm-up and ends with the last
    call; ``phases`` marks the same on a target.

    Parameters
    ----------
    monitor : SystemMonitor, optional
        The load monitor (default: one sampling every ``monitor_interval`` seconds).

    Raises
    ------
    BenchmarkError
        If inference fails; the results file then holds the completed samples
        and is marked ``partial`` (or ``failed`` when none completed).
    """
    settings = settings or MeasureSettings()
    results = recorder.results
    results.measure = settings
    subset = subset or settings.subset
    indices = dataset.subset_indices(subset)
    results.dataset.subset, results.dataset.num_samples = subset, len(indices)
    need_samples, need_calls = settings.required(len(indices), dataset.batch_size)
    done = len(results.samples)
    earlier_s = _earlier_seconds(results)
    monitor = (monitor or SystemMonitor(monitor_interval)).start()
    recorder.monitor = monitor
    index = -1
    try:
        with progress("warm-up", None):
            results.warmup = warm_up(dataset, infer, settings)
        monitor.begin_window()
        if phases is not None:
            phases.begin_measuring()
        begun = time.perf_counter()
        with progress("inference", need_samples) as advance:
            advance(done)
            for seq, chunk, inputs, labels in _batches(dataset, indices, settings.seed, done):
                index = chunk[0][1]
                start = time.perf_counter()
                outcome = infer(inputs)
                end_to_end = outcome.end_to_end_s or time.perf_counter() - start
                finished = round(time.monotonic() - monitor.start_time, 6)
                regression = dataset.task == "regression"
                detection = dataset.task == "detection"
                top: Any = [[]] * len(chunk) if detection else dataset.evaluate(outcome.outputs)
                for i, (_, sample) in enumerate(chunk):
                    recorder.capture(sample, outcome.sample_outputs(i))
                    recorder.add(
                        SampleResult(
                            index=sample,
                            seq=seq + i,
                            ground_truth=-1 if regression or detection else int(labels[i]),
                            predictions=[int(c) for c in top[i]],
                            target=float(labels[i]) if regression else None,
                            value=float(np.ravel(outcome.outputs[i])[0]) if regression else None,
                            detections=detection_rows(outcome.outputs[i]) if detection else None,
                            boxes=np.asarray(labels[i]).tolist() if detection else None,
                            inference_s=outcome.inference_s,
                            end_to_end_s=end_to_end,
                            preprocess_s=outcome.preprocess_s,
                            postprocess_s=outcome.postprocess_s,
                            ok_interval_s=outcome.ok_interval_s,
                            batch=seq // dataset.batch_size,
                            timestamp_s=finished,
                        )
                    )
                advance(len(chunk))
                measured = seq + len(chunk)
                elapsed = earlier_s + time.perf_counter() - begun
                if (
                    measured >= need_samples
                    and measured // dataset.batch_size >= need_calls
                    and elapsed >= settings.min_duration_s
                ):
                    break
        _end(monitor, phases)
    except (Exception, KeyboardInterrupt) as exc:
        if monitor.series["window_start_s"] is not None:
            monitor.end_window()  # the target's end is its last STATS: the link may be gone
        kept = len(results.samples)
        where = f"on sample {index}" if index >= 0 else "during warm-up"
        reason = f"inference failed {where}: {exc}"
        recorder.finish("partial" if kept else "failed", reason)
        monitor.stop()
        if isinstance(exc, KeyboardInterrupt):
            raise
        kept_text = (
            f"{kept} completed samples kept in {recorder.path}"
            if kept or not recorder.replaces
            else f"nothing measured; {recorder.path} left as it was"
        )
        raise BenchmarkError(f"{reason}; {kept_text}", index, kept) from exc
    final = recorder.finish("complete")
    monitor.stop()
    return final


def _end(monitor: SystemMonitor, phases: Phases | None) -> None:
    """Close the measured window here and on the target."""
    monitor.end_window()
    if phases is not None:
        phases.end_measuring()

import json
import os
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from kenning.core.benchmark import BenchmarkError, Outcome, run_benchmark
from kenning.core.measure import MeasureSettings, sample_order
from kenning.core.measurements import Measurements
from kenning.core.monitor import SystemMonitor
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import (
    DatasetInfo,
    HostInfo,
    ModelInfo,
    Results,
    load_results,
)
from kenning.datasets.digits import DigitsDataset
from kenning.utils.errors import ResultsError


def make_results(ds: DigitsDataset) -> Results:
    return Results(
        scenario="test",
        command=["pytest"],
        created=ResultsRecorder.now(),
        host=HostInfo.current(),
        frameworks=[],
        model=ModelInfo(wrapper="oracle", path="-"),
        dataset=DatasetInfo(
            cls="digits",
            subset="validation",
            num_samples=len(ds.subset_indices("validation")),
            class_names=ds.get_class_names(),
            batch_size=ds.batch_size,
        ),
    )


def oracle(ds: DigitsDataset):
    """An 'inference' that looks the labels up: accuracy must come out exactly 1."""
    lookup = {ds.prepare_input_samples([i]).tobytes(): ds.dataY[i] for i in range(len(ds))}

    def infer(x: np.ndarray) -> Outcome:
        out = np.zeros((len(x), 10), np.float32)
        for row, sample in enumerate(x):
            out[row, lookup[sample[np.newaxis].tobytes()]] = 1.0
        return Outcome(out, inference_s=1e-3)

    return infer


def test_benchmark_writes_complete_results(tmp_path: Path) -> None:
    ds = DigitsDataset(None, batch_size=8)
    out = tmp_path / "sub" / "r.json"
    # p90: 64 calls are enough, fewer than the 125 calls of 1000 samples in batches of 8
    settings = MeasureSettings(
        min_samples=1000, warmup=3, min_duration_s=0.0, percentiles=[50.0, 90.0]
    )
    recorder = ResultsRecorder(out, make_results(ds))
    run_benchmark(ds, oracle(ds), recorder, settings, monitor_interval=0.01)
    res = load_results(out)
    assert res.status == "complete"
    # the data is looped over until 1000 samples (whole batches of 8), each sample in it once
    # per pass, in a seeded order
    assert len(res.samples) == 1000 and [s.seq for s in res.samples] == list(range(1000))
    assert len(res.distinct_samples()) == res.dataset.num_samples == 450
    order = sample_order(ds.subset_indices("validation"), 0)
    assert [s.index for s in res.samples] == [next(order)[1] for _ in range(1000)]
    assert res.warmup is not None and res.warmup.count == 3
    assert res.metrics is not None and res.metrics.accuracy == 1.0
    # one timing per runtime call: 125 calls of 8 samples
    assert res.figures["inference"].count == 125 and res.figures["inference"].median == 1e-3
    assert res.figures["inference"].batch_size == 8
    assert all(s.end_to_end_s is not None and s.end_to_end_s > 0 for s in res.samples)
    assert res.system is not None and len(res.system.timestamps) >= 1
    assert len(res.system.cpu_percent[0]) == os.cpu_count()
    assert res.system.gpu_available is False and res.system.gpu_percent is None
    assert {s.batch for s in res.samples} == set(range(1000 // 8))
    raw = json.loads(out.read_text())
    assert raw["schema"] == "kenning.results" and raw["schema_version"] == 2
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~get_umask())


def get_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failure_keeps_completed_samples_and_names_the_sample(tmp_path: Path) -> None:
    ds = DigitsDataset(None)
    good = oracle(ds)
    calls = {"n": 0}

    def flaky(x: np.ndarray) -> Outcome:
        calls["n"] += 1
        if calls["n"] == 11:
            raise ConnectionError("board went away")
        return good(x)

    out = tmp_path / "r.json"
    with pytest.raises(BenchmarkError) as err:
        run_benchmark(ds, flaky, ResultsRecorder(out, make_results(ds)), MeasureSettings(warmup=0))
    order = sample_order(ds.subset_indices("validation"), 0)
    failing = [next(order)[1] for _ in range(11)][10]
    assert f"sample {failing}" in str(err.value) and "board went away" in str(err.value)
    res = load_results(out)
    assert res.status == "partial" and len(res.samples) == 10
    assert res.metrics is not None and res.metrics.accuracy == 1.0
    assert "board went away" in (res.error or "")


def test_recorder_fails_early_on_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResultsError, match="cannot write results"):
        ResultsRecorder(blocker / "r.json", make_results(DigitsDataset(None)))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json at all", "not JSON"),
        ('{"some": "thing"}', "no 'schema' field"),
        ('{"schema": "kenning.results", "schema_version": 99}', "schema version 99"),
        ('{"schema": "kenning.results", "schema_version": 2}', "not a valid results file"),
    ],
)
def test_load_results_errors(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=fragment):
        load_results(path)


def test_measurements_collector() -> None:
    m = Measurements()
    m.set("compile_s", 1.5)
    m.append("load_s", 0.1)
    with m.timed("load_s"):
        time.sleep(0.01)
    other = Measurements()
    other.append("load_s", 0.3)
    other.set("compile_s", 2.0)
    m.update(other)
    d = m.to_dict()
    assert d["compile_s"] == 2.0
    assert len(d["load_s"]) == 3 and d["load_s"][1] >= 0.01


def test_system_monitor_samples_in_background() -> None:
    with SystemMonitor(interval=0.02) as mon:
        end = time.perf_counter() + 0.4
        while time.perf_counter() < end:  # one core busy for the whole run
            pass
    s = mon.series
    assert len(s["timestamps"]) >= 5
    assert s["timestamps"] == sorted(s["timestamps"])
    assert len(s["cpu_percent"]) == len(s["ram_used_bytes"]) == len(s["timestamps"])
    cores = psutil.cpu_count()
    assert all(len(sample) == cores for sample in s["cpu_percent"])
    assert all(0.0 <= v <= 100.0 for sample in s["cpu_percent"] for v in sample)
    # the busy loop shows: on average over the run, the cores together are at least one busy
    total = sum(sum(sample) for sample in s["cpu_percent"]) / len(s["cpu_percent"])
    assert total >= 70.0, s["cpu_percent"]
    assert all(0 < r for r in s["ram_used_bytes"])
    assert HostInfo.current().ram_bytes > max(s["ram_used_bytes"])

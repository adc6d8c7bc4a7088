"""Honest figures: known durations measured right everywhere, percentile intervals that cover,
verdicts that say why, A/B tests that tell noise from a difference, resume without duplicates.
"""

from __future__ import annotations

import json
import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest_protocol import SPEC, model_file, thread_server
from test_core_results import make_results

from kenning.core.abtest import compare_medians
from kenning.core.figures import interval_ranks, samples_needed, summarise
from kenning.core.measure import MeasureSettings, WarmupRecord
from kenning.core.pipeline import host_outcome
from kenning.core.resultparts import SampleResult
from kenning.core.results import load_results, write_atomically
from kenning.datasets.digits import DigitsDataset
from kenning.runtimeprotocols.network import NetworkProtocol
from kenning.runtimeprotocols.ptylink import PtyLink
from kenning.runtimeprotocols.serial import SerialProtocol
from kenning.runtimeprotocols.server import InferenceServer
from kenning.runtimeprotocols.session import RemoteSession
from kenning.runtimes.null import NullRuntime
from kenning.scenarios.inference_tester import resumed_samples
from kenning.utils.errors import ConfigurationError


class Identity:
    """The host side of a model whose inputs and outputs need no conversion."""

    def scored_index(self) -> int:
        return 0

    def preprocess_input(self, batch: np.ndarray) -> np.ndarray:
        return batch

    def postprocess_outputs(self, outputs: np.ndarray) -> np.ndarray:
        return outputs


BATCH = np.zeros((1, 16), np.float32)


def _check(outcomes: list, known: float) -> None:
    inference = [o.inference_s for o in outcomes]
    assert all(t >= known for t in inference)
    assert statistics.median(inference) == pytest.approx(known, rel=0.05)
    assert all(o.end_to_end_s >= o.inference_s for o in outcomes)


@pytest.mark.parametrize("known", [0.002, 0.00002])
def test_a_known_duration_in_process(tmp_path: Path, known: float) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"m")
    SPEC.save(model)
    runtime = NullRuntime(tmp_path / "saved.bin", inference_time=known)
    runtime.load_model(model)
    infer = host_outcome(Identity(), runtime)  # type: ignore[arg-type]
    _check([infer(BATCH) for _ in range(300)], known)


@pytest.mark.parametrize("known", [0.002, 0.00002])
def test_a_known_duration_over_tcp(tmp_path: Path, known: float) -> None:
    with thread_server(tmp_path, inference_time=known) as server:
        protocol = NetworkProtocol(port=server.port, timeout=5.0)
        with RemoteSession(protocol, Identity(), SPEC, model_file(tmp_path)) as session:  # type: ignore[arg-type]
            outcomes = [session.infer(BATCH) for _ in range(300)]
            assert session.info["sha256"] == session.sha256
    _check(outcomes, known)


@contextmanager
def serial_server(port: str, tmp_path: Path, known: float) -> Iterator[None]:
    protocol = SerialProtocol(port, timeout=1.0)
    server = InferenceServer(protocol, NullRuntime(tmp_path / "target" / "model.bin",
                                                   inference_time=known),
                             idle_timeout=0.5, monitor_interval=0.05)  # fmt: skip
    protocol.initialize_server()  # before the client writes: opening a tty drops input
    thread = threading.Thread(target=server.serve, kwargs={"poll": 0.05, "initialize": False},
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield
    finally:
        server.stop_event.set()
        thread.join(5)


@pytest.mark.parametrize("known", [0.002, 0.00002])
def test_a_known_duration_over_serial(tmp_path: Path, known: float) -> None:
    with PtyLink() as (server_end, client_end), serial_server(server_end, tmp_path, known):
        protocol = SerialProtocol(client_end, timeout=5.0)
        with RemoteSession(protocol, Identity(), SPEC, model_file(tmp_path, 2000)) as session:  # type: ignore[arg-type]
            outcomes = [session.infer(BATCH) for _ in range(100)]
    _check(outcomes, known)


def test_samples_needed_are_loadgens_floors() -> None:
    assert samples_needed(90.0) == 64 and samples_needed(99.0) == 662
    assert interval_ranks(1000, 50.0, 0.99) == (459, 542)
    assert interval_ranks(30, 99.0, 0.99)[1] is None  # no upper bound from 30 samples


def test_percentile_intervals_cover_the_true_value() -> None:
    """Over many runs of known exponential data the 99 % interval misses rarely."""
    rng = np.random.default_rng(1)
    true_p90 = -np.log(0.1)  # of Exp(1)
    misses = 0
    for _ in range(300):
        entry = summarise("inference", rng.exponential(1.0, 400), [90.0]).percentile(90.0)
        assert entry is not None and entry.low is not None and entry.high is not None
        misses += not entry.low <= true_p90 <= entry.high
    assert misses <= 9  # 1 % expected (3 of 300); 9 is far in the tail


def test_a_short_run_is_invalid_and_says_how_many_calls_it_needs() -> None:
    results = make_results(DigitsDataset(None))
    results.measure = MeasureSettings(percentiles=[50, 99], min_samples=30)
    results.warmup = WarmupRecord(count=10, seconds=0.01)
    results.status = "complete"
    results.samples = [
        SampleResult(
            index=i, seq=i, ground_truth=0, predictions=[0], inference_s=1e-3 + i * 1e-6, batch=i
        )
        for i in range(30)
    ]
    results.compute_metrics()
    assert results.verdict is not None and results.verdict.state == "INVALID"
    reasons = results.verdict.reasons
    assert "p99 needs 662 calls at 99% confidence, 30 measured (raise --min-samples)" in reasons
    assert "incomplete: stopped at 30 of 662 samples (30 of 662 calls)" in reasons
    # no load series: that check could not run, and says so (no guess either way)
    assert "load: no samples were recorded where the model ran" in results.verdict.unverified
    assert results.verdict.line().startswith("INVALID (incomplete: ")
    assert "; not checked: run length: " in results.verdict.line()
    assert "load: no samples were recorded" in results.verdict.line()


def test_a_verdict_of_an_older_file_reads_with_its_state() -> None:
    from kenning.core.validity import RunVerdict

    old = RunVerdict.model_validate({"valid": True, "reasons": [], "notes": []})
    assert old.state == "VALID" and old.valid
    assert RunVerdict.model_validate({"valid": False, "reasons": ["x"]}).state == "INVALID"
    assert '"valid":false' in RunVerdict(state="UNVERIFIED").model_dump_json()


def test_within_run_bootstrap_tells_noise_from_a_difference_within_a_run() -> None:
    rng = np.random.default_rng(2)
    base = rng.lognormal(0.0, 0.2, 800)
    same = compare_medians(base, rng.lognormal(0.0, 0.2, 800))
    assert not same.significant and same.describe().startswith("within noise")
    slower = compare_medians(base, rng.lognormal(np.log(1.2), 0.2, 800))
    assert slower.significant and slower.ratio == pytest.approx(1.2, rel=0.05)
    assert slower.describe().startswith("slower by 2")


def test_a_version_1_file_still_reads(tmp_path: Path) -> None:
    results = make_results(DigitsDataset(None))
    raw = json.loads(results.dump())
    raw["schema_version"] = 1
    raw["samples"] = [{"index": 3, "ground_truth": 1, "predictions": [1], "time_s": 0.5,
                       "target_time_s": 0.2, "batch": 0}]  # fmt: skip
    raw["latency"] = None
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(raw))
    upgraded = load_results(path)
    sample = upgraded.samples[0]
    assert (sample.inference_s, sample.ok_interval_s) == (0.2, 0.5)
    assert upgraded.figures["inference"].median == 0.2


def _previous(tmp_path: Path, seqs: list[int], sha: str = "a" * 64) -> Path:
    results = make_results(DigitsDataset(None))
    results.scenario = "inference_tester"
    results.model.sha256 = sha
    results.measure = MeasureSettings()
    results.samples = [SampleResult(index=s % 450, seq=s, ground_truth=0, predictions=[0],
                                    inference_s=1e-3) for s in seqs]  # fmt: skip
    path = tmp_path / "r.json"
    write_atomically(path, results.dump())
    return path


def test_resume_keeps_whole_batches_of_the_unbroken_start(tmp_path: Path) -> None:
    fresh = make_results(DigitsDataset(None))
    fresh.scenario, fresh.model.sha256, fresh.measure = (
        "inference_tester",
        "a" * 64,
        MeasureSettings(),
    )
    kept = resumed_samples(_previous(tmp_path, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]), fresh, 4)
    assert [s.seq for s in kept] == list(range(8))  # 8 and 9 were half a batch; 11 after a gap


def test_resume_refuses_the_results_of_another_artifact(tmp_path: Path) -> None:
    fresh = make_results(DigitsDataset(None))
    fresh.scenario, fresh.model.sha256, fresh.measure = (
        "inference_tester",
        "b" * 64,
        MeasureSettings(),
    )
    with pytest.raises(ConfigurationError, match=r"another run \(model file SHA-256 a+ → b+"):
        resumed_samples(_previous(tmp_path, [0, 1]), fresh, 1)


def _series(stamps: list[float], busy: list[float], own: list[float], window: tuple[float, float]):
    from kenning.core.resultparts import TimeSeries

    cores = [[b / 2, b / 2] for b in busy]
    return TimeSeries(
        interval_s=0.5,
        timestamps=stamps,
        cpu_percent=cores,
        ram_used_bytes=[1] * len(stamps),
        ram_percent=[1.0] * len(stamps),
        gpu_available=False,
        process_cpu_percent=own,
        other_processes=[
            [["hog", 7, b - o]] if b > o else [] for b, o in zip(busy, own, strict=True)
        ],
        window_start_s=window[0],
        window_end_s=window[1],
    )


def test_other_load_is_weighted_by_the_share_of_the_window_each_sample_covers() -> None:
    from kenning.core.loadcheck import other_load

    series = _series([0.5, 1.0, 1.5, 2.0], [200.0, 200.0, 100.0, 100.0], [100.0] * 4, (0.5, 2.0))
    # the first sample lies before the window; then 0.5 s at 1 other core and 1 s at none
    load = other_load(series, 0.5, 2.0)
    assert load.cores == pytest.approx(1 / 3) and load.waited is None
    assert load.named == ["hog (pid 7) 0.33"]


def test_load_is_judged_only_inside_the_window_and_needs_a_second() -> None:
    from kenning.core.loadcheck import check_window

    # start-up (a framework import) used other cores before the window: not held against it
    busy = [200.0, 200.0, 100.0, 100.0, 100.0]
    found = check_window(_series([0.5, 1.0, 1.5, 2.0, 2.5], busy, [100.0] * 5, (1.0, 2.5)), 0.5)
    assert not found.failed and found.other_cores == 0.0
    short = check_window(_series([0.5, 1.0], [100.0, 100.0], [100.0] * 2, (0.6, 1.0)), 0.5)
    assert any("the measured phase lasted 0.40 s, too short" in u for u in short.unverified)
    unmarked = _series([0.5, 1.0], [100.0] * 2, [100.0] * 2, (0.0, 1.0))
    unmarked.window_start_s = None  # a file from before the window was marked
    [why] = check_window(unmarked, 0.5).unverified
    assert why.startswith("load: the measured phase is not marked on the load series")


def test_other_load_adds_the_cpu_other_processes_waited_for() -> None:
    from kenning.core.loadcheck import check_window

    # one other process got 0.4 cores and waited 0.6 more: it wanted a whole core
    series = _series([0.5, 1.0, 1.5], [140.0] * 3, [100.0] * 3, (0.0, 1.5))
    series.other_wait_percent = [60.0] * 3
    series.other_processes = [[["hog", 7, 40.0, 60.0]]] * 3
    found = check_window(series, 0.5)
    [why] = found.failed
    assert why.startswith("other load: other processes wanted 1.00 cores"), why
    assert "(used 0.40, waited 0.60 for a CPU;" in why and why.endswith(
        "hog (pid 7) 0.40 used + 0.60 waited"
    ), why
    series.other_wait_percent = None  # a kernel that does not count waits: judged by use
    unseen = check_window(series, 0.5)
    assert not unseen.failed and unseen.other_cores == pytest.approx(0.4)
    assert any("no run-queue waits" in n for n in unseen.notes), unseen.notes

"""Every reason a verdict gives is caused for real here, and each test fails with its check off.

The runs are real measured runs (:func:`run_benchmark` with the busy-waiting null runtime and
the load sampler process); the conditions are real too: ``cpu-hog`` processes, a sampler
stopped with SIGSTOP, a C call that holds the measured interpreter's lock, a ``/sys`` tree
whose clock changes mid-run, a run killed halfway and resumed.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGITS, TORCH_CNN, run_kenning
from conftest_protocol import SPEC, server_process
from loadtools import FakeClock, cpu_hogs, wait_quiet
from test_core_results import make_results

from kenning.core.benchmark import Outcome, run_benchmark
from kenning.core.measure import MeasureSettings
from kenning.core.monitor import SystemMonitor
from kenning.core.pipeline import host_outcome
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import Results, load_results
from kenning.core.summary import summary_line
from kenning.datasets.digits import DigitsDataset
from kenning.reports.stats import evaluated
from kenning.runtimes.null import NullRuntime
from kenning.utils.errors import ResultsError


class Flat:
    """The host side of a 16-float model: any sample becomes 16 zeros."""

    def scored_index(self) -> int:
        return 0

    def preprocess_input(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros((len(batch), 16), np.float32)

    def postprocess_outputs(self, outputs: np.ndarray) -> np.ndarray:
        return outputs


def measured_run(
    tmp_path: Path,
    settings: MeasureSettings | None = None,
    *,
    batch: int = 1,
    inference_time: float = 0.0005,
    monitor: SystemMonitor | None = None,
    on_call: Callable[[int], None] | None = None,
) -> Results:
    """One real measured run in this process; ``on_call(n)`` runs before call ``n`` (from 1)."""
    model = tmp_path / "model.bin"
    model.write_bytes(b"m")
    SPEC.save(model)
    runtime = NullRuntime(tmp_path / "saved.bin", inference_time=inference_time)
    runtime.load_model(model)
    infer = host_outcome(Flat(), runtime)  # type: ignore[arg-type]
    calls = 0

    def hooked(inputs: np.ndarray) -> Outcome:
        nonlocal calls
        calls += 1
        if on_call is not None:
            on_call(calls)
        return infer(inputs)

    dataset = DigitsDataset(None, batch_size=batch)
    recorder = ResultsRecorder(tmp_path / "results.json", make_results(dataset))
    return run_benchmark(dataset, hooked, recorder, settings or MeasureSettings(), monitor=monitor)


def reasons(results: Results) -> str:
    assert results.verdict is not None
    return "; ".join(results.verdict.reasons)


def test_a_quiet_run_is_valid_and_names_what_it_checked(tmp_path: Path) -> None:
    wait_quiet()
    results = measured_run(tmp_path)
    assert results.verdict is not None and results.verdict.state == "VALID", results.verdict
    checks = " | ".join(results.verdict.checks)
    for checked in (
        "complete: ",
        "warmed up",
        "other load",
        "without a gap",
        "CPU clock steady",
    ):
        assert checked in checks, checks
    assert summary_line(results, tmp_path / "r.json").startswith("VALID: ")


def test_two_cpu_hogs_make_the_run_invalid_and_are_named(tmp_path: Path) -> None:
    with cpu_hogs(2, tmp_path) as pids:
        results = measured_run(tmp_path)
    assert results.verdict is not None and results.verdict.state == "INVALID"
    text = reasons(results)
    assert "other load: other processes wanted" in text, text
    assert any(f"cpu-hog (pid {pid})" in text for pid in pids), text


def test_a_hog_the_run_keeps_from_the_cpu_is_other_load_by_its_waits(tmp_path: Path) -> None:
    """A niced hog beside a run that keeps both cores busy gets almost no CPU but waits for
    one all the time: judged by the CPU it used, the machine would look quiet."""
    burner = subprocess.Popen(["sh", "-c", "while :; do :; done"])  # the run's own (a child)
    try:
        with cpu_hogs(1, tmp_path, nice=19) as [hog]:
            results = measured_run(tmp_path, inference_time=0.002)
    finally:
        burner.kill()
        burner.wait(timeout=10)
    assert results.verdict is not None and results.verdict.state == "INVALID", results.verdict
    text = reasons(results)
    assert "other load: other processes wanted" in text, text
    used = float(text.split("(used ")[1].split(",")[0])
    assert used < 0.5, text  # what it used alone would pass the check
    assert f"cpu-hog (pid {hog})" in text, text


def test_no_warm_up_is_invalid(tmp_path: Path) -> None:
    results = measured_run(tmp_path, MeasureSettings(warmup=0))
    assert "no warm-up: the cold first inferences count" in reasons(results)


def test_a_measured_process_stuck_in_c_does_not_stall_the_monitor(tmp_path: Path) -> None:
    """A C call that holds this interpreter's lock for 1.2 s: the sampler process runs on."""
    held: list[float] = []
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:  # what an in-process monitor thread could do meanwhile
        while not stop.wait(0.02):
            ticks.append(time.monotonic())

    def block(call: int) -> None:
        if call == 300:
            start = time.monotonic()
            ctypes.PyDLL(None).usleep(1_200_000)  # PyDLL: the lock stays held
            held.append(time.monotonic() - start)

    wait_quiet()
    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        results = measured_run(tmp_path, on_call=block)
    finally:
        stop.set()
        thread.join()
    assert held and held[0] >= 1.2
    # the condition was real: a thread of this process could not run for the whole call
    assert max(b - a for a, b in itertools.pairwise(ticks)) >= 1.1
    assert results.verdict is not None
    assert not any("gap" in r for r in results.verdict.reasons), results.verdict
    assert any("without a gap" in c for c in results.verdict.checks)


def test_a_stalled_monitor_is_a_gap(tmp_path: Path) -> None:
    monitor = SystemMonitor(0.1)

    def stall(call: int) -> None:
        if call == 200:
            pid = monitor.sampler_pid
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            threading.Timer(1.0, os.kill, (pid, signal.SIGCONT)).start()

    results = measured_run(tmp_path, monitor=monitor, on_call=stall)
    assert "load monitor gap: no sample for 1." in reasons(results)


def test_a_machine_that_reports_no_clock_is_unverified(tmp_path: Path) -> None:
    (tmp_path / "no-clock").mkdir()
    wait_quiet()
    results = measured_run(
        tmp_path, monitor=SystemMonitor(0.1, clock_root=str(tmp_path / "no-clock"))
    )
    assert results.verdict is not None and results.verdict.state == "UNVERIFIED", results.verdict
    assert results.verdict.unverified == [
        "CPU clock: this machine reports none (no cpufreq in /sys, no 'cpu MHz' in "
        "/proc/cpuinfo), so a clock change could not be seen"
    ]
    assert results.verdict.line().startswith("UNVERIFIED (CPU clock: ")


def test_a_clock_that_drops_mid_run_is_invalid(tmp_path: Path) -> None:
    clock = FakeClock(tmp_path / "root", mhz=2000.0)

    def drop(call: int) -> None:
        if call == 300:
            clock.set_mhz(1500.0, core=1)

    results = measured_run(
        tmp_path, monitor=SystemMonitor(0.05, clock_root=str(clock.root)), on_call=drop
    )
    assert "CPU clock of core 1 changed: 2000 -> 1500 MHz" in reasons(results)


def test_a_steady_fake_clock_passes_and_throttling_is_invalid(tmp_path: Path) -> None:
    clock = FakeClock(tmp_path / "root", mhz=2400.0)

    def throttle(call: int) -> None:
        if call == 300:
            clock.throttled(3)

    results = measured_run(
        tmp_path, monitor=SystemMonitor(0.05, clock_root=str(clock.root)), on_call=throttle
    )
    assert "thermal throttling: 3 events during the measured phase" in reasons(results)
    assert results.verdict is not None
    assert any(
        "CPU clock steady within 10% (cpufreq in /sys)" in c for c in results.verdict.checks
    )


def test_throttling_before_the_measured_phase_does_not_count(tmp_path: Path) -> None:
    clock = FakeClock(tmp_path / "root")

    def throttle(call: int) -> None:
        if call == 2:  # during warm-up
            clock.throttled(5)
            time.sleep(0.2)

    results = measured_run(
        tmp_path, monitor=SystemMonitor(0.05, clock_root=str(clock.root)), on_call=throttle
    )
    assert "throttling" not in reasons(results)
    assert results.verdict is not None and "no thermal throttling event" in results.verdict.checks


def test_a_run_too_short_for_the_load_check_is_unverified(tmp_path: Path) -> None:
    results = measured_run(
        tmp_path, MeasureSettings(min_samples=700, min_duration_s=0.0), inference_time=0.0
    )
    assert results.verdict is not None and results.verdict.state in ("UNVERIFIED", "INVALID")
    assert any("other load: the measured phase lasted" in u for u in results.verdict.unverified)


def test_one_call_is_one_timing_whatever_the_batch(tmp_path: Path) -> None:
    results = measured_run(tmp_path, batch=32, inference_time=0.0)
    figure = results.primary
    assert figure is not None and figure.batch_size == 32
    calls = len({s.batch for s in results.samples})
    assert figure.count == calls >= 662  # p99 at 99 %: the run went on until it had the calls
    assert len(results.samples) == 32 * calls
    line = summary_line(results, tmp_path / "r.json")
    assert f"{len(results.samples)} samples in {calls} calls of 32" in line
    assert "(per sample, derived: p50 " in line


def test_the_window_is_the_measured_phase(tmp_path: Path) -> None:
    """A slow start-up (warm-up calls that take seconds) is outside what the verdict judges."""

    def slow_warm_up(call: int) -> None:
        if call <= 3:
            time.sleep(0.4)

    results = measured_run(tmp_path, on_call=slow_warm_up)
    series = results.system
    assert series is not None and series.window_start_s is not None
    assert series.window_start_s >= 1.2  # after the three slow warm-up calls
    assert series.window_end_s is not None and series.timestamps[-1] >= series.window_end_s


@pytest.mark.parametrize("kept", [700])
def test_a_run_stopped_short_is_invalid(tmp_path: Path, kept: int) -> None:
    def die(call: int) -> None:
        if call == 10 + kept + 1:  # warm-up, then the kept calls
            raise OSError("the board went away")

    with pytest.raises(Exception, match="the board went away"):
        measured_run(tmp_path, on_call=die)
    results = load_results(tmp_path / "results.json")
    assert results.status == "partial" and len(results.samples) == kept
    assert f"incomplete: stopped at {kept} of 1,000 samples" in reasons(results)


def _tester(model: Path, out: Path, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "kenning.scenarios.inference_tester",
        TORCH_CNN,
        "onnx",
        "onnxruntime",
        DIGITS,
        str(out),
        "--model-path",
        str(model),
        "--compiled-model-path",
        str(out.with_suffix(".onnx")),
        "--protocol-cls",
        "network",
        "--port",
        str(port),
        "--min-samples",
        "20000",
        "--min-duration",
        "8",
        *extra,
    ]


def _wait_for_measured(out: Path, seconds: float, timeout: float = 120.0) -> Results:
    """The results file once its measured phase has lasted ``seconds`` (flushed every 2 s)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(0.2)
        try:
            now = load_results(out)
        except ResultsError:
            continue
        window = now.system
        if (
            window is not None
            and window.window_start_s is not None
            and window.window_end_s is not None
            and window.window_end_s - window.window_start_s >= seconds
        ):
            return now
    raise AssertionError(f"{out} did not measure {seconds} s within {timeout} s")


@pytest.mark.slow
def test_a_killed_run_is_invalid_and_its_resume_judges_every_part(
    torch_digits_model: Path, tmp_path: Path
) -> None:
    """Part 1 runs beside two CPU hogs and is killed; part 2 runs quiet: the hogs still count."""
    args = [
        "network",
        "onnxruntime",
        "--save-model-path",
        str(tmp_path / "target" / "m.onnx"),
        "--port",
        "0",
    ]
    out = tmp_path / "run.json"
    with server_process(args) as server:
        with cpu_hogs(2, tmp_path) as hogs:
            tester = subprocess.Popen(
                _tester(torch_digits_model, out, server.port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for_measured(out, 1.5)
            finally:
                tester.kill()  # the host dies: no cleanup, no last write
                tester.wait(10)
        killed = evaluated(load_results(out))
        assert killed.status == "running"
        kept = len(killed.samples)
        assert killed.verdict is not None and killed.verdict.state == "INVALID"
        assert f"incomplete: stopped at {kept:,} of 20,000 samples" in reasons(killed)
        wait_quiet()
        done = run_kenning(
            _tester(torch_digits_model, out, server.port, "--resume")[2:], timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
    resumed = load_results(out)
    assert resumed.status == "complete" and len(resumed.samples) >= 20000
    assert len(resumed.parts) == 1 and resumed.parts[0].samples <= kept
    assert resumed.parts[0].target_system is not None  # part 1's load travels with the run
    text = reasons(resumed)
    assert "part 1 of 2: other load: other processes wanted" in text, text
    assert any(f"cpu-hog (pid {pid})" in text for pid in hogs), text
    assert "part 2 of 2: other load" not in text, text
    assert resumed.verdict is not None
    assert any(c.startswith("part 2 of 2: other load") for c in resumed.verdict.checks)
    # the resumed run is complete over both parts: no "incomplete" reason any more
    assert "incomplete" not in text and "too short" not in text


def test_the_sampler_starts_from_the_servers_zip(tmp_path: Path) -> None:
    """On a board kenning is a zip on PYTHONPATH: no sampler file exists to run."""
    from kenning.boards.deploy import server_zip

    archive = server_zip(tmp_path)
    script = (
        "import json, time\n"
        "from kenning.core.monitor import SystemMonitor\n"
        "import kenning.core.monitor as m\n"
        "assert '.zip' in m.__file__, m.__file__\n"
        "monitor = SystemMonitor(interval=0.05).start()\n"
        "time.sleep(0.5)\n"
        "series = monitor.stop()\n"
        "print(json.dumps({'pid': monitor.sampler_pid, 'n': len(series['timestamps'])}))\n"
    )
    path = f"import sys; sys.path.insert(0, {str(archive)!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", path + script],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["pid"] and seen["n"] >= 3, seen

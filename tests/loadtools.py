"""Causing and seeing the machine states verdicts judge: CPU hogs, a quiet machine, a fake clock.

A test that asserts VALID first waits (with a deadline) until it has seen the machine quiet;
a test of a reason causes it for real: :func:`cpu_hogs` starts processes named ``cpu-hog``
that burn a core each (stopped by PID), :class:`FakeClock` is a ``/sys`` tree whose clock and
throttling counter the test changes while the sampler reads it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kenning.core.loadcheck import other_load
from kenning.core.monitor import SystemMonitor
from kenning.core.resultparts import TimeSeries

#: other load (cores) under which the machine counts as quiet, and for how long it must be
QUIET_CORES = 0.2
QUIET_SPAN_S = 1.5
QUIET_DEADLINE_S = 240.0


@contextmanager
def cpu_hogs(count: int, folder: Path, nice: int = 0) -> Iterator[list[int]]:
    """``count`` processes named ``cpu-hog`` that each keep one core busy; yields their PIDs.

    They are started detached (their parent exits at once), as another program's would be:
    not descendants of the measuring process, whose children count as its own work. With
    ``nice`` they run at that niceness, and so does their session's autogroup where the
    kernel groups sessions (else the group's fair share would undo the niceness): beside a
    run that keeps every core busy they wait for a CPU nearly all the time.
    """
    script = folder / "cpu-hog"
    script.write_text("#!/bin/sh\nwhile :; do :; done\n")
    script.chmod(0o755)
    pids: list[int] = []
    try:
        for _ in range(count):
            started = subprocess.run(
                [
                    "sh",
                    "-c",
                    f"setsid nice -n {nice} {script} >/dev/null 2>&1 </dev/null & echo $!",
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            )
            pids.append(int(started.stdout.strip()))
            if nice:
                _nice_autogroup(pids[-1], nice)
        time.sleep(0.3)  # running before the measurement starts
        yield pids
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def _nice_autogroup(pid: int, nice: int, deadline_s: float = 10.0) -> None:
    """Set the niceness of ``pid``'s session autogroup, once it has a session of its own.

    Until ``setsid`` has run, the process is in its parent's autogroup, this test's: writing
    then would nice the test itself. Kernels without autogroups have nothing to set.
    """
    end = time.monotonic() + deadline_s
    while not _leads_session(pid):
        if time.monotonic() > end:
            raise AssertionError(f"cpu-hog {pid} did not start a session within {deadline_s:g} s")
        time.sleep(0.005)
    group = Path(f"/proc/{pid}/autogroup")
    if group.exists():
        group.write_text(f"{nice}\n")


def _leads_session(pid: int) -> bool:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rfind(")") + 2 :].split()[3]) == pid  # state, ppid, pgrp, session


def measure_other_load(seconds: float) -> tuple[float, list[str]]:
    """Cores other processes wanted over ``seconds`` (used and waited for; this process and
    its children excluded), and the busiest named."""
    with SystemMonitor(0.1) as monitor:
        monitor.begin_window()
        time.sleep(seconds)
        monitor.end_window()
    series = TimeSeries(**monitor.series)
    assert series.window_start_s is not None and series.window_end_s is not None
    load = other_load(series, series.window_start_s, series.window_end_s)
    return load.cores, load.named


def wait_quiet(deadline_s: float = QUIET_DEADLINE_S) -> float:
    """Wait until the machine has been quiet for :data:`QUIET_SPAN_S`; return its load.

    Raises
    ------
    AssertionError
        If it is not quiet within ``deadline_s`` seconds (naming what kept it busy).
    """
    end = time.monotonic() + deadline_s
    while True:
        cores, named = measure_other_load(QUIET_SPAN_S)
        if cores <= QUIET_CORES:
            return cores
        if time.monotonic() > end:
            raise AssertionError(
                f"the machine did not go quiet within {deadline_s:g} s: other processes use "
                f"{cores:.2f} cores ({', '.join(named) or 'unnamed'}); a VALID verdict "
                "cannot be expected"
            )


class FakeClock:
    """A ``/sys`` tree with a cpufreq reading per core and a throttling counter, for the
    sampler's ``clock_root``; the test changes them while a run goes on."""

    def __init__(self, root: Path, cores: int = 2, mhz: float = 2000.0) -> None:
        self.root = root
        self.cores = cores
        cpu = root / "sys" / "devices" / "system" / "cpu"
        self.freq = [cpu / f"cpu{i}" / "cpufreq" / "scaling_cur_freq" for i in range(cores)]
        self.throttle = cpu / "cpu0" / "thermal_throttle" / "core_throttle_count"
        for path in [*self.freq, self.throttle]:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.set_mhz(mhz)
        self.throttle.write_text("0\n")

    def set_mhz(self, mhz: float, core: int | None = None) -> None:
        """Set one core's clock (every core's when ``core`` is None)."""
        for i, path in enumerate(self.freq):
            if core is None or core == i:
                path.write_text(f"{int(mhz * 1000)}\n")

    def throttled(self, events: int) -> None:
        """Count ``events`` more throttling events."""
        count = int(self.throttle.read_text())
        self.throttle.write_text(f"{count + events}\n")

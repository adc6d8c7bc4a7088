"""What a load series says about the measured window: other load, monitor gaps, clock, throttling.

The verdict (:mod:`kenning.core.validity`) judges the machine only while the model was
measured: the window :class:`kenning.core.monitor.SystemMonitor` marks on the series (after
warm-up, with the model loaded). A sample covers the time since the one before it, so the
window's share of each sample weighs it. :func:`check_window` returns, for one series:

* ``failed``: a check that ran and failed (other processes wanted more than the tolerated
  cores: what they used and what they waited for a CPU, as a run that takes the CPU pushes
  them onto the run queue; naming the three that wanted most; no sample for more than
  :data:`GAP_INTERVALS` intervals; a core's clock changed by more than
  :data:`FREQUENCY_TOLERANCE`; throttling events);
* ``unverified``: a check that could not run (no series, no marked window, a window too
  short to measure load, a machine that reports no clock);
* ``passed``: what was checked and held, in words a report can show;
* ``notes``: what the machine cannot tell and no check needs (no throttling counter, no
  run-queue waits: other load is then judged by what other processes used).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from kenning.core.resultparts import TimeSeries

#: load samples must cover this long to estimate other load: the kernel counts CPU time in
#: 10 ms ticks, so a 20 ms window is +-0.5 cores of noise, one second +-0.01
MIN_LOAD_SPAN_S = 1.0
#: a stretch without a sample longer than this many intervals is a gap
GAP_INTERVALS = 3.0
#: relative change of a core's clock that makes a run INVALID
FREQUENCY_TOLERANCE = 0.10
_SOURCES = {"cpufreq": "cpufreq in /sys", "cpuinfo": "/proc/cpuinfo"}


@dataclass
class Findings:
    """What the checks of one series found (see the module docstring)."""

    failed: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    other_cores: float | None = None

    def extend(self, other: Findings, prefix: str = "") -> None:
        """Add another series' findings, each line prefixed (``part 1 of 2: ``)."""
        self.failed += [prefix + t for t in other.failed]
        self.unverified += [prefix + t for t in other.unverified]
        self.passed += [prefix + t for t in other.passed]
        self.notes += [prefix + t for t in other.notes if prefix + t not in self.notes]


def _spans(series: TimeSeries, start: float, end: float) -> Iterator[tuple[int, float]]:
    """``(sample index, seconds of the window it covers)`` for samples overlapping it."""
    before = 0.0
    for i, stamp in enumerate(series.timestamps):
        overlap = min(stamp, end) - max(before, start)
        if overlap > 0:
            yield i, overlap
        before = stamp


def _gap(series: TimeSeries, start: float, end: float) -> str | None:
    limit = GAP_INTERVALS * series.interval_s
    stamps = [0.0, *series.timestamps]
    for before, after in itertools.pairwise(stamps):
        if after - before > limit and after > start and before < end:
            return (
                f"load monitor gap: no sample for {after - before:.2f} s at "
                f"{before:.1f} s (interval {series.interval_s:g} s)"
            )
    tail = end - stamps[-1]
    if tail > limit:
        return (
            f"load monitor gap: no sample in the last {tail:.2f} s of the measured phase "
            f"(interval {series.interval_s:g} s)"
        )
    return None


@dataclass
class OtherLoad:
    """What other processes wanted over a window, in cores: used, and waited for a CPU.

    ``waited`` is None where the series has no run-queue waits (a kernel that does not count
    them, a file from an older kenning): then only the CPU they got is known, and a run that
    kept them from a CPU looks quieter than the machine was.
    """

    used: float
    waited: float | None
    named: list[str]

    @property
    def cores(self) -> float:
        """Cores wanted: used plus waited (used alone where waits are not known)."""
        return self.used + (self.waited or 0.0)


def other_load(series: TimeSeries, start: float, end: float) -> OtherLoad:
    """What other processes wanted over the window, with the three that wanted most named."""
    used = total = 0.0
    waited: float | None = 0.0 if series.other_wait_percent is not None else None
    names: dict[tuple[str, int], list[float]] = {}
    own = series.process_cpu_percent or []
    waits = series.other_wait_percent or []
    tops = series.other_processes or []
    for i, span in _spans(series, start, end):
        busy = sum(series.cpu_percent[i]) if i < len(series.cpu_percent) else 0.0
        used += span * max(0.0, busy - (own[i] if i < len(own) else 0.0)) / 100.0
        if waited is not None:
            waited += span * (waits[i] if i < len(waits) else 0.0) / 100.0
        total += span
        for name, pid, percent, *wait in tops[i] if i < len(tops) else []:
            seen = names.setdefault((str(name), int(pid)), [0.0, 0.0])
            seen[0] += span * float(percent) / 100.0
            seen[1] += span * float(wait[0]) / 100.0 if wait else 0.0
    if total <= 0:
        return OtherLoad(0.0, waited, [])
    busiest = sorted(names.items(), key=lambda item: -sum(item[1]))[:3]
    known = waited is not None
    named = [
        f"{name} (pid {pid}) {_wanted(u / total, w / total, known)}"
        for (name, pid), (u, w) in busiest
        if (u + w) / total >= 0.005  # shown as at least 0.01
    ]
    return OtherLoad(used / total, None if waited is None else waited / total, named)


def _wanted(used: float, waited: float, known: bool) -> str:
    """``0.45 used + 0.50 waited``, or ``0.45`` where waits are not counted."""
    return f"{used:.2f} used + {waited:.2f} waited" if known else f"{used:.2f}"


def _clock(series: TimeSeries, start: float, end: float, found: Findings) -> None:
    source = _SOURCES.get(series.cpu_freq_source or "", series.cpu_freq_source or "")
    rows = series.cpu_freq_mhz or []
    margin = series.interval_s
    inside = [
        row
        for stamp, row in zip(series.timestamps, rows, strict=False)
        if start - margin <= stamp <= end + margin
    ]
    if not inside:
        found.unverified.append(
            "CPU clock: this machine reports none (no cpufreq in /sys, no 'cpu MHz' in "
            "/proc/cpuinfo), so a clock change could not be seen"
        )
        return
    for core in range(len(inside[0])):
        values = [row[core] for row in inside if len(row) > core]
        low, high = min(values), max(values)
        if high > 0 and (high - low) / high > FREQUENCY_TOLERANCE:
            found.failed.append(
                f"CPU clock of core {core} changed: {high:.0f} -> {low:.0f} MHz "
                "during the measured phase"
            )
            return
    found.passed.append(f"CPU clock steady within {FREQUENCY_TOLERANCE:.0%} ({source})")


def _throttling(series: TimeSeries, start: float, end: float, found: Findings) -> None:
    counts = series.throttle_counts or []
    stamps = series.timestamps
    known = [(t, c) for t, c in zip(stamps, counts, strict=False) if c is not None]
    if not known:
        found.notes.append("thermal throttling: the kernel does not count it on this machine")
        return
    before = [c for t, c in known if t <= start]
    during = [c for t, c in known if start < t <= end + series.interval_s]
    base = before[-1] if before else known[0][1]
    events = (during[-1] if during else base) - base
    if events > 0:
        found.failed.append(f"thermal throttling: {events} events during the measured phase")
    else:
        found.passed.append("no thermal throttling event")


def check_window(series: TimeSeries | None, max_other_load: float) -> Findings:
    """Judge the machine over the series' measured window (see the module docstring)."""
    found = Findings()
    if series is None or not series.timestamps:
        found.unverified.append("load: no samples were recorded where the model ran")
        return found
    if series.monitor_error:
        found.failed.append(f"load monitor failed: {series.monitor_error}")
    start, end = series.window_start_s, series.window_end_s
    if start is None or end is None:
        found.unverified.append(
            "load: the measured phase is not marked on the load series (written by an older "
            "kenning or server), so other load and gaps could not be judged"
        )
        return found
    gap = _gap(series, start, end)
    if gap:
        found.failed.append(gap)
    else:
        found.passed.append(f"load sampled without a gap ({series.interval_s:g} s interval)")
    if end - start < MIN_LOAD_SPAN_S:
        found.unverified.append(
            f"other load: the measured phase lasted {end - start:.2f} s, too short to measure "
            f"the load beside it (needs {MIN_LOAD_SPAN_S:g} s: raise --min-duration)"
        )
    else:
        load = other_load(series, start, end)
        found.other_cores = load.cores
        how = (
            f"used {load.used:.2f}, waited {load.waited:.2f} for a CPU"
            if load.waited is not None
            else "used; waits for a CPU not counted"
        )
        if load.cores > max_other_load:
            who = f": {', '.join(load.named)}" if load.named else ""
            found.failed.append(
                f"other load: other processes wanted {load.cores:.2f} cores while the model "
                f"ran ({how}; tolerated {max_other_load:g}, --max-other-load){who}"
            )
        else:
            found.passed.append(
                f"other load {load.cores:.2f} cores ({how}; tolerated {max_other_load:g})"
            )
        if load.waited is None:
            found.notes.append(
                "other load is what other processes used: this series has no run-queue waits "
                "(the kernel keeps no /proc/PID/schedstat, or an older kenning wrote it), so "
                "work the run kept from a CPU is not seen"
            )
    _clock(series, start, end, found)
    _throttling(series, start, end, found)
    return found

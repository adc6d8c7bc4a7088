"""Whether a run's figures can be trusted: VALID or INVALID, with every reason.

A run is INVALID when any of these holds (each becomes one reason):

* a reported percentile has fewer samples than it needs at the chosen confidence
  (:func:`kenning.core.figures.samples_needed`);
* it did no warm-up, so the cold first inferences count;
* the load monitor on the machine that ran the model has gaps (no sample for more than three
  intervals) or recorded nothing;
* other processes there used more CPU during the run than ``--max-other-load`` cores (the
  measuring processes, and on a local board the host's tester, do not count);
* the CPU frequency of a core changed by more than 10 % during the run, or the kernel
  counted thermal throttling events.

Where a machine cannot tell (no frequency or throttling counters, as in most containers),
the verdict notes it as unavailable instead of guessing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from kenning.core.figures import PRIMARY
from kenning.core.measure import MeasureSettings
from kenning.core.monitor import MIN_LOAD_SPAN_S, other_load_cores
from kenning.core.resultparts import TimeSeries

#: relative change of a core's frequency that makes a run INVALID
FREQUENCY_TOLERANCE = 0.10
#: a gap longer than this many monitor intervals is a gap
GAP_INTERVALS = 3.0


class RunVerdict(BaseModel):
    """VALID or INVALID, why, and what could not be checked."""

    valid: bool
    reasons: list[str] = []
    notes: list[str] = []

    @property
    def word(self) -> str:
        """``VALID`` or ``INVALID``."""
        return "VALID" if self.valid else "INVALID"

    def line(self) -> str:
        """``VALID`` or ``INVALID (reason; reason)``."""
        return self.word if self.valid else f"INVALID ({'; '.join(self.reasons)})"


def judge(results: Any) -> RunVerdict:
    """The verdict of a run from what its results file holds.

    ``results`` is a :class:`kenning.core.results.Results` (which calls this: typed loosely
    so that this module does not import the one that imports it).
    """
    settings = results.measure or MeasureSettings()
    reasons: list[str] = []
    notes: list[str] = []
    figure = results.figures.get(PRIMARY)
    if figure is None:
        return RunVerdict(valid=False, reasons=["no sample was measured"])
    for q in settings.percentiles:
        entry = figure.percentile(q)
        if entry is not None and figure.count < entry.needed:
            reasons.append(
                f"p{q:g} needs {entry.needed} samples at {figure.confidence:.0%} confidence, "
                f"{figure.count} measured (raise --min-samples)"
            )
    if results.warmup is None or (results.warmup.count == 0 and results.warmup.seconds == 0):
        reasons.append("no warm-up: the cold first inferences count (--warmup)")
    # the load where the model ran: the target's for a protocol run, else this host's
    remote = any(s.ok_interval_s is not None for s in results.samples)
    series = results.target_system if remote else results.system
    reasons.extend(_monitor_reasons(series))
    other = other_load_cores(series)
    if other is None:
        notes.append(f"other load: not measured (the load samples cover less than "
                     f"{MIN_LOAD_SPAN_S:g} s)")  # fmt: skip
    elif other > settings.max_other_load:
        reasons.append(
            f"other processes used {other:.2f} cores while the model ran "
            f"(tolerated {settings.max_other_load:g}, --max-other-load)"
        )
    reasons_cpu, notes_cpu = _cpu_state(series)
    return RunVerdict(
        valid=not (reasons or reasons_cpu), reasons=reasons + reasons_cpu, notes=notes + notes_cpu
    )


def _monitor_reasons(series: TimeSeries | None) -> list[str]:
    if series is None or not series.timestamps:
        return ["no load samples were recorded where the model ran"]
    limit = GAP_INTERVALS * series.interval_s
    for before, after in zip(series.timestamps, series.timestamps[1:], strict=False):
        if after - before > limit:
            return [f"load monitor gap of {after - before:.2f} s at {before:.1f} s "
                    f"(interval {series.interval_s:g} s)"]  # fmt: skip
    return []


def _cpu_state(series: TimeSeries | None) -> tuple[list[str], list[str]]:
    reasons: list[str] = []
    notes: list[str] = []
    if series is None or not series.cpu_freq_mhz:
        notes.append("CPU frequency: unavailable on this machine")
    else:
        cores = len(series.cpu_freq_mhz[0])
        for core in range(cores):
            values = [row[core] for row in series.cpu_freq_mhz if len(row) > core]
            low, high = min(values), max(values)
            if high > 0 and (high - low) / high > FREQUENCY_TOLERANCE:
                reasons.append(f"CPU frequency of core {core} changed: {high:.0f} -> "
                               f"{low:.0f} MHz during the run")  # fmt: skip
                break
    if series is None or series.throttle_count is None:
        notes.append("thermal throttling: unavailable on this machine")
    elif series.throttle_count > 0:
        reasons.append(f"thermal throttling: {series.throttle_count} events during the run")
    return reasons, notes

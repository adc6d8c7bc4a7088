"""Whether a run's figures can be trusted: VALID, INVALID or UNVERIFIED, saying why.

A verdict may say only what was checked. It is

* **VALID** when every check ran and passed;
* **INVALID** when a check failed (every failed check is a reason);
* **UNVERIFIED** when no check failed but one could not run (each named).

The checks, over the run's measured phase (after warm-up, with the model loaded):

* the run is complete: it reached the samples, calls and seconds it asked for
  (:meth:`kenning.core.measure.MeasureSettings.required`); a run that stopped early is INVALID;
* every reported percentile has the calls it needs at the chosen confidence
  (:func:`kenning.core.figures.samples_needed`; one runtime call is one timing, whatever the
  batch size);
* it warmed up, so the cold first inferences do not count;
* on the machine that ran the model (the target's series for a protocol run): the load
  monitor has no gap, other processes stayed under ``--max-other-load`` cores, no core's
  clock changed by more than 10 % and the kernel counted no throttling
  (:func:`kenning.core.loadcheck.check_window`). A microcontroller's firmware (a target that
  reports ``firmware_model``) runs nothing but the server and the model on its core, timed by
  the core's own counter: there is no other load to check, and the verdict says so.

A resumed run is judged part by part: each part needs its own warm-up and clean machine.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, computed_field, model_validator

from kenning.core.figures import PRIMARY
from kenning.core.loadcheck import Findings, check_window
from kenning.core.measure import MeasureSettings, WarmupRecord
from kenning.core.resultparts import TimeSeries

State = Literal["VALID", "INVALID", "UNVERIFIED"]
STATES: tuple[State, ...] = ("VALID", "INVALID", "UNVERIFIED")


class RunVerdict(BaseModel):
    """The state, every failed check, every check that could not run, and what passed."""

    state: State
    reasons: list[str] = []
    unverified: list[str] = []
    checks: list[str] = []
    notes: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        """Files from before the third state hold only ``valid``."""
        if isinstance(data, dict) and "state" not in data and "valid" in data:
            data = dict(data, state="VALID" if data["valid"] else "INVALID")
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def valid(self) -> bool:
        """True only for VALID."""
        return self.state == "VALID"

    @property
    def word(self) -> str:
        """``VALID``, ``INVALID`` or ``UNVERIFIED``."""
        return self.state

    def line(self) -> str:
        """``VALID``, ``INVALID (reason; reason)`` or ``UNVERIFIED (what could not run)``."""
        if self.state == "VALID":
            return "VALID"
        parts = list(self.reasons)
        if self.unverified:
            unchecked = "; ".join(self.unverified)
            parts.append(f"not checked: {unchecked}" if self.reasons else unchecked)
        return f"{self.state} ({'; '.join(parts)})"

    @classmethod
    def of(cls, found: Findings) -> RunVerdict:
        """The verdict that the findings make."""
        state: State = "INVALID" if found.failed else "UNVERIFIED" if found.unverified else "VALID"
        return cls(
            state=state,
            reasons=found.failed,
            unverified=found.unverified,
            checks=found.passed,
            notes=found.notes,
        )


def _window_seconds(series: TimeSeries | None) -> float | None:
    if series is None or series.window_start_s is None or series.window_end_s is None:
        return None
    return series.window_end_s - series.window_start_s


def _completeness(results: Any, settings: MeasureSettings, calls: int, found: Findings) -> None:
    need_samples, need_calls = settings.required(
        results.dataset.num_samples, results.dataset.batch_size
    )
    samples = len(results.samples)
    if results.status != "complete" or samples < need_samples or calls < need_calls:
        why = f" ({results.status}: {results.error})" if results.error else ""
        found.failed.append(
            f"incomplete: stopped at {samples:,} of {need_samples:,} samples "
            f"({calls:,} of {need_calls:,} calls){why}"
        )
    else:
        found.passed.append(f"complete: {samples:,} samples in {calls:,} calls")
    parts = [*results.parts, results]
    seconds = [_window_seconds(p.system) for p in parts]
    if any(s is None for s in seconds):
        found.unverified.append("run length: the measured phase's duration was not recorded")
        return
    total = sum(s for s in seconds if s is not None)
    if total + 1e-6 < settings.min_duration_s:
        found.failed.append(
            f"too short: measured {total:.2f} s of the {settings.min_duration_s:g}"
            " s asked (--min-duration)"
        )
    else:
        found.passed.append(f"measured for {total:.2f} s")


def _warmed_up(warmup: WarmupRecord | None) -> bool:
    return warmup is not None and warmup.count > 0  # at least one call run and discarded


def judge(results: Any) -> RunVerdict:
    """The verdict of a run from what its results file holds.

    ``results`` is a :class:`kenning.core.results.Results` (which calls this: typed loosely
    so that this module does not import the one that imports it).
    """
    settings = results.measure or MeasureSettings()
    figure = results.figures.get(PRIMARY)
    found = Findings()
    if figure is None:
        return RunVerdict(state="INVALID", reasons=["no inference was measured"])
    _completeness(results, settings, figure.count, found)
    for q in settings.percentiles:
        entry = figure.percentile(q)
        if entry is None:
            continue
        if figure.count < entry.needed:
            found.failed.append(
                f"p{q:g} needs {entry.needed} calls at {figure.confidence:.0%} confidence, "
                f"{figure.count} measured (raise --min-samples)"
            )
    remote = any(f.role == "protocol" for f in results.frameworks) or any(
        s.ok_interval_s is not None for s in results.samples[:1]
    )
    bare_metal = bool(((results.measurements or {}).get("target") or {}).get("firmware_model"))
    parts = [*results.parts, results]
    for number, part in enumerate(parts, 1):
        prefix = f"part {number} of {len(parts)}: " if len(parts) > 1 else ""
        if _warmed_up(part.warmup):
            found.passed.append(f"{prefix}warmed up ({part.warmup.count} calls)")
        else:
            found.failed.append(f"{prefix}no warm-up: the cold first inferences count (--warmup)")
        if remote and bare_metal:
            found.passed.append(
                f"{prefix}bare-metal target: only the model ran on its core while timed by the "
                "core's counter (no other load to check)"
            )
            continue
        series = part.target_system if remote else part.system
        found.extend(check_window(series, settings.max_other_load), prefix)
    return RunVerdict.of(found)

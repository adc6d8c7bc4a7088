"""What a model takes on a microcontroller: flash, RAM and stack, beside its latency.

A run on a microcontroller's firmware (the target reported ``firmware_model``) carries the
firmware's static footprint (flash: code and weights; RAM: data, bss and the reserved
stack) and the stack's high-water mark the firmware measured by painting its stack. Its
time comes from the core's counter; under QEMU (``-icount shift=0``) that is emulated time,
one instruction per nanosecond, never silicon time, and the report says so wherever it
shows one. The comparison gets a footprint table and Pareto views with flash and RAM as
the cost axis (fronts never mix models, as in :mod:`kenning.reports.comparison`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from kenning.core.results import Results
from kenning.reports import plots
from kenning.reports.document import Figure, Table, fixed

KIB = 1024.0
#: what every emulated time shown is
EMULATED = "emulated time (QEMU -icount shift=0: 1 instruction = 1 ns), not silicon time"


def firmware(results: Results) -> dict[str, Any] | None:
    """The firmware's footprint and clock, for a run on a microcontroller; else None."""
    target = (results.measurements or {}).get("target") or {}
    if not target.get("firmware_model"):
        return None
    server = results.provenance.get("server") or {}
    emulator = server.get("emulator") if isinstance(server, dict) else None
    emulator = None if emulator in (None, "none") else emulator  # "none": a real board
    return {
        "board": target.get("board", "-"),
        "cpu": target.get("cpu", "-"),
        "flash_bytes": target.get("flash_bytes"),
        "ram_bytes": target.get("ram_bytes"),
        "stack_bytes": target.get("stack_bytes"),
        "stack_high_water_bytes": target.get("stack_high_water_bytes"),
        "clock": EMULATED
        if emulator
        else "the core's SysTick counter "
        f"({target.get('cycles_hz', '?')} Hz); if the board is emulated, {EMULATED}",
        "emulated": bool(emulator),
    }


def info_rows(results: Results) -> list[tuple[str, Any]]:
    """Rows for a single run's information table (none unless it ran on firmware)."""
    facts = firmware(results)
    if facts is None:
        return []
    return [
        ("Firmware flash (bytes)", facts["flash_bytes"]),
        ("Firmware RAM (bytes)", facts["ram_bytes"]),
        (
            "Stack high-water / reserved (bytes)",
            f"{facts['stack_high_water_bytes']} / {facts['stack_bytes']}",
        ),
        ("Target clock", facts["clock"]),
    ]


def _kib(value: Any) -> float | None:
    return value / KIB if isinstance(value, int | float) else None


def _plot(entries: Sequence[Any], costs: list[float], front: list[int], x_label: str) -> Any:
    return plots.pareto_plot(
        costs,
        [e.score or 0.0 for e in entries],
        [e.key for e in entries],
        [e.label for e in entries],
        front,
        x_label=x_label,
    )


def footprint_section(entries: Sequence[Any], stem: str, front: Any) -> dict[str, Any] | None:
    """The footprint table and flash/RAM Pareto views of a comparison (None: no firmware run).

    ``entries`` are :class:`kenning.reports.comparison.Entry`; ``front`` is its
    ``pareto_front``-per-model function over (costs, scores).
    """
    rows: list[tuple[Any, dict[str, Any]]] = []
    for entry in entries:
        facts = firmware(entry.results)
        if facts is not None:
            rows.append((entry, facts))
    if not rows:
        return None
    table = Table(
        "Footprint on microcontrollers",
        [
            "#",
            "Board",
            "CPU",
            "Flash (KiB)",
            "RAM (KiB)",
            "Stack high-water (KiB)",
            "Latency p50 (ms)",
            "Clock",
        ],
    )
    for e, f in rows:
        table.add(
            e.key,
            f["board"],
            f["cpu"],
            fixed(_kib(f["flash_bytes"]), 1),
            fixed(_kib(f["ram_bytes"]), 1),
            fixed(_kib(f["stack_high_water_bytes"]), 1),
            fixed(e.p50_ms, 3),
            "emulated" if f["emulated"] else "core counter",
        )
    figures = []
    scored = [(e, f) for e, f in rows if e.score is not None]
    for field, name in (("flash_bytes", "flash"), ("ram_bytes", "RAM")):
        points = [(e, _kib(f[field])) for e, f in scored if _kib(f[field]) is not None]
        if not points:
            continue
        costs = [float(c or 0.0) for _, c in points]
        idx = front([e for e, _ in points], costs)
        figures.append(
            Figure(
                f"{stem}_pareto_{name.lower()}",
                f"{name} (KiB) against accuracy on microcontrollers; stars mark the Pareto front",
                partial(_plot, [e for e, _ in points], costs, idx, f"{name} (KiB)"),
            )
        )
    return {"table": table, "figures": figures, "note": EMULATED}

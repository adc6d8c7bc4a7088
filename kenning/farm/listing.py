"""The farm for the terminal: places with their holders, and a progress line while waiting."""

from __future__ import annotations

import io
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from kenning.farm.queue import QueueStatus, format_status
from kenning.farm.records import PlaceInfo, ReservationInfo


def _lease(place: PlaceInfo, now: float) -> str:
    lease = place.lease
    if lease is None:
        return "-"
    left = lease.until - now
    return f"{left:.0f} s left" if left >= 0 else f"stale {-left:.0f} s"


def format_places(
    places: Sequence[PlaceInfo],
    reservations: Sequence[ReservationInfo] = (),
    now: float | None = None,
    width: int | None = None,
) -> str:
    """A plain-text table: place, tags, holder, kenning lease, reservation and queue."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    now = time.time() if now is None else now
    owners = {r.token: f"{r.owner} ({r.state.name.lower()})" for r in reservations}
    waiting = sum(1 for r in reservations if r.state.name == "WAITING")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("place", "tags", "held by", "lease", "reserved for"):
        table.add_column(header, overflow="fold")
    for place in places:
        tags = " ".join(f"{k}={v}" for k, v in sorted(place.user_tags.items()))
        reserved = owners.get(place.reservation or "", place.reservation or "-")
        table.add_row(
            place.name, tags or "-", place.acquired or "free", _lease(place, now), reserved
        )
    buffer = io.StringIO()
    width = width or max(100, shutil.get_terminal_size((120, 24)).columns)
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(table)
    text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
    if not places:
        text = (
            "no places on the coordinator (create them with `invoke farm.export --coordinator`)\n"
        )
    return text + f"{waiting} reservation(s) waiting\n"


def progress_printer(stream: TextIO | None = None) -> Callable[[QueueStatus], None]:
    """A ``progress`` callback for :func:`~kenning.farm.lease.reserve`.

    On a terminal it rewrites one line; elsewhere it prints a line when the position or the
    places change.
    """
    out = stream or sys.stderr
    last: list[str] = [""]

    def show(status: QueueStatus) -> None:
        text = format_status(status)
        if out.isatty():
            out.write("\r" + text[: shutil.get_terminal_size((120, 24)).columns - 1] + "\x1b[K")
            out.flush()
            return
        key = text.split(":", 1)[1]
        if key != last[0]:
            last[0] = key
            print(text, file=out, flush=True)

    return show

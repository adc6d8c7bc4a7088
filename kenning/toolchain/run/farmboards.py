"""Boards for a run from a labgrid farm: reserve places by tags, lock them, release them.

``invoke bench --farm COORDINATOR --board arch=arm64`` asks the coordinator for a place whose
tags match, waiting in its queue (the position is shown) up to ``wait`` seconds; once it has
one, it also takes every other matching place that is free at that moment (up to ``places``),
without waiting, so two runs that want the same boards both make progress and never share a
place. Each place is held under a kenning lease (:mod:`kenning.farm.lease`), refreshed while
the run works; when the run ends, fails or is interrupted every place is released, and a run
killed outright loses its places once its lease times out. A place's name is its board's name
in inventory.yaml, which says how to drive the board; results name the place, the exporter
that serves it and the reservation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kenning.boards.base import Board
from kenning.farm import (
    DEFAULT_LEASE_TIMEOUT,
    FarmSession,
    Lease,
    ReservationTimeoutError,
    progress_printer,
    reserve,
)
from kenning.farm.tags import matches

log = logging.getLogger("kenning.farm")

#: seconds a run waits for each place beyond its first (it only takes what is free)
_EXTRA_WAIT_S = 3.0


@dataclass(frozen=True)
class FarmSettings:
    """How a run uses the farm.

    ``places`` is the most places to hold (0: every matching place free once the first is
    held); ``wait`` the seconds to wait in the queue for the first; ``lease_timeout`` the
    seconds after which a dead run's places are released by others.
    """

    coordinator: str
    filters: Mapping[str, str]
    places: int = 0
    priority: float = 0.0
    wait: float = 600.0
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT


class FarmBoard:
    """A board of the inventory, held through a farm place; results say which and how."""

    def __init__(self, board: Board, lease: Lease, coordinator: str, exporter: str) -> None:
        self.board = board
        self.lease = lease
        self.name = board.name
        self.arch = board.arch
        self.on_this_machine = board.on_this_machine
        self.runtimes = getattr(board, "runtimes", None)
        self.farm = {
            "coordinator": coordinator,
            "place": lease.place,
            "exporter": exporter,
            "reservation": lease.token,
        }

    def serve(
        self,
        runtime: str,
        suffix: str,
        folder: Path,
        args: Sequence[str] = (),
        *,
        artifact: Path | None = None,
    ) -> Any:
        """The board's own :meth:`serve`, once the place is checked to be still ours.

        Raises
        ------
        LeaseLostError
            If the place was taken from this run (its lease could not be refreshed).
        """
        self.lease.check()
        return self.board.serve(runtime, suffix, folder, args, artifact=artifact)

    def lost(self) -> str | None:
        """Why the run must stop using this board at once (its place was lost), else None.

        A running benchmark asks this while it runs (``LocalExecutor(cancel=...)``): it is
        stopped within a fraction of a second of the lease's refresh finding the place gone.
        """
        if self.lease.lost is None:
            return None
        return f"farm place {self.lease.place} was lost: {self.lease.lost}"

    def preflight(self) -> None:
        """The board's own check."""
        self.board.preflight()

    def describe(self) -> dict[str, Any]:
        """The board as results record it, with the place, exporter and reservation."""
        return {**self.board.describe(), "farm": dict(self.farm, held_at=time.time())}


def _exporter_of(session: FarmSession, place: str) -> str:
    """The exporter serving the place's resources (``EXPORTER/PLACE/CLASS/NAME``)."""
    exporters = sorted(
        {key.split("/")[0] for key in session.resources() if key.split("/")[1:2] == [place]}
    )
    return ", ".join(exporters) or "none"


@contextmanager
def farm_boards(
    settings: FarmSettings, board_for: Callable[[str], Board]
) -> Iterator[list[Board]]:
    """Hold farm places for a run; yield their boards; release them all at the end.

    Parameters
    ----------
    settings : FarmSettings
        Coordinator, tag filters and limits.
    board_for : callable
        The inventory's board of a place's name.

    Raises
    ------
    ReservationTimeoutError
        If no place matched and came free within ``settings.wait``.
    FarmError, ConfigurationError
        If the coordinator fails, or a place has no board in the inventory.
    """
    with ExitStack() as stack:
        first = _hold(stack, settings, settings.wait)
        leases = [first]
        with FarmSession(settings.coordinator) as session:
            matching = sum(matches(settings.filters, p.name, p.tags) for p in session.places())
            wanted = min(settings.places or matching, matching)
            while len(leases) < wanted:
                try:
                    leases.append(_hold(stack, settings, _EXTRA_WAIT_S, quiet=True))
                except ReservationTimeoutError:
                    break  # the others are someone else's now: bench on what we hold
            boards: list[Board] = [
                FarmBoard(
                    board_for(lease.place),
                    lease,
                    settings.coordinator,
                    _exporter_of(session, lease.place),
                )
                for lease in leases
            ]
        held = ", ".join(f"{lease.place} (reservation {lease.token})" for lease in leases)
        log.warning("farm %s: holding %s", settings.coordinator, held)
        yield boards


def _hold(stack: ExitStack, settings: FarmSettings, wait: float, quiet: bool = False) -> Lease:
    session = stack.enter_context(FarmSession(settings.coordinator))
    return stack.enter_context(
        reserve(
            session,
            settings.filters,
            prio=settings.priority,
            wait=wait,
            lease_timeout=settings.lease_timeout,
            progress=None if quiet else progress_printer(),
        )
    )

"""Where a waiting reservation stands: its place in the queue and who holds the places it wants."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kenning.farm.records import PlaceInfo, ReservationInfo, ReservationState
from kenning.farm.tags import matches


@dataclass(frozen=True)
class QueueStatus:
    """One look at the queue, for a progress line or an error message.

    ``position`` counts the waiting reservations that could take the same places, in the
    coordinator's order (higher priority first, then older first); 1 is next. ``places``
    is each place the filters match, with who has it (``free``, ``held by host/user``, ...).
    """

    filters: Mapping[str, str]
    token: str
    position: int
    waiting: int
    places: tuple[tuple[str, str], ...]
    waited: float


def _compatible(one: Mapping[str, str], other: Mapping[str, str]) -> bool:
    # two filters compete for a place unless they ask different values of one key
    return all(other.get(key, value) == value for key, value in one.items())


def _holder(place: PlaceInfo, owners: Mapping[str, str], now: float) -> str:
    if place.acquired:
        lease = place.lease
        if lease is None:
            return f"held by {place.acquired}"
        left = lease.until - now
        state = f"lease {left:.0f} s left" if left >= 0 else f"lease stale {-left:.0f} s"
        return f"held by {place.acquired}, {state}"
    if place.reservation:
        return f"reserved for {owners.get(place.reservation, place.reservation)}"
    return "free"


def queue_status(
    filters: Mapping[str, str],
    token: str,
    reservations: Sequence[ReservationInfo],
    places: Sequence[PlaceInfo],
    waited: float,
    now: float | None = None,
) -> QueueStatus:
    """Where reservation ``token`` (asking for ``filters``) stands among ``reservations``."""
    now = time.time() if now is None else now
    waiting = sorted(
        (r for r in reservations if r.state is ReservationState.WAITING),
        key=lambda r: (-r.prio, r.created),
    )
    rivals = [r for r in waiting if _compatible(r.filters, filters)]
    position = next((i + 1 for i, r in enumerate(rivals) if r.token == token), 0)
    owners = {r.token: r.owner for r in reservations}
    wanted = tuple(
        (p.name, _holder(p, owners, now)) for p in places if matches(filters, p.name, p.tags)
    )
    return QueueStatus(dict(filters), token, position, len(rivals), wanted, waited)


def format_status(status: QueueStatus) -> str:
    """``waiting 12 s for arch=arm64: position 2 of 3; rpi4-1: held by host/alice, ...``."""
    asked = " ".join(f"{k}={v}" for k, v in sorted(status.filters.items())) or "any place"
    where = f"position {status.position} of {status.waiting}" if status.position else "not queued"
    places = "; ".join(f"{name}: {who}" for name, who in status.places)
    return f"waiting {status.waited:.0f} s for {asked} (reservation {status.token}): {where}; " + (
        places or "no place has these tags"
    )

"""Freeing places whose kenning lease expired (the rule is in :mod:`kenning.farm.lease`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from kenning.farm.errors import CoordinatorError
from kenning.farm.records import PlaceInfo
from kenning.farm.session import FarmSession
from kenning.farm.tags import LEASE_TAG, LeaseTag, tag_text

log = logging.getLogger(__name__)


def find_place(session: FarmSession, name: str, deadline: float) -> PlaceInfo | None:
    """The place called ``name``, or None."""
    return next((p for p in session.places(deadline) if p.name == name), None)


def reap_stale(
    session: FarmSession,
    places: Sequence[PlaceInfo] | None = None,
    *,
    now: float | None = None,
    deadline: float | None = None,
) -> list[str]:
    """Release the places whose kenning lease expired; return their names.

    A place is freed when its ``kenning_lease`` expiry has passed and it is still the lease
    writer's (see the module's docstring for the rule).

    Raises
    ------
    CoordinatorError, FarmTimeoutError
        If the coordinator cannot be asked or refuses.
    """
    now = time.time() if now is None else now
    reaped = []
    for place in session.places(deadline) if places is None else places:
        lease = place.lease
        if lease is None or now <= lease.until or not _writers(place, lease):
            continue
        if place.reservation:
            cancel(session, place.reservation, deadline)
        if place.acquired:
            session.release(place.name, fromuser=place.acquired, deadline=deadline)
            log.warning(
                "place %s: released from %s, whose kenning lease expired %.0f s ago",
                place.name,
                place.acquired,
                now - lease.until,
            )
        session.set_tags(place.name, {LEASE_TAG: ""}, deadline)
        reaped.append(place.name)
    return reaped


def _writers(place: PlaceInfo, lease: LeaseTag) -> bool:
    # still held (or reserved) by whoever wrote the lease
    if place.reservation:
        return tag_text(place.reservation) == lease.token
    return place.acquired is None or tag_text(place.acquired) == lease.holder


def cancel(session: FarmSession, token: str, deadline: float | None) -> None:
    """Cancel reservation ``token``; one that is already gone is not an error."""
    try:
        session.cancel_reservation(token, deadline)
    except CoordinatorError as exc:
        if exc.code != "FAILED_PRECONDITION":  # already gone
            raise

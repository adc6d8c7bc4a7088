"""What the coordinator says about places and reservations, as plain frozen records."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from kenning.farm.tags import LEASE_TAG, LeaseTag, parse_lease


class ReservationState(enum.IntEnum):
    """labgrid's reservation states (their numbers are on the wire)."""

    WAITING = 0
    ALLOCATED = 1
    ACQUIRED = 2
    EXPIRED = 3
    INVALID = 4


@dataclass(frozen=True)
class PlaceInfo:
    """One labgrid place.

    ``acquired`` is the holder (``host/user``) or None; ``reservation`` the token of the
    reservation it is allocated to, or None.
    """

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    matches: tuple[str, ...] = ()
    acquired: str | None = None
    reservation: str | None = None
    comment: str = ""
    changed: float = 0.0

    @property
    def lease(self) -> LeaseTag | None:
        """Kenning's lease on this place, or None."""
        return parse_lease(self.tags.get(LEASE_TAG))

    @property
    def user_tags(self) -> dict[str, str]:
        """The tags without kenning's lease."""
        return {key: value for key, value in self.tags.items() if key != LEASE_TAG}


@dataclass(frozen=True)
class ReservationInfo:
    """One labgrid reservation: a request for a place whose tags include ``filters``."""

    token: str
    owner: str
    state: ReservationState
    prio: float
    filters: Mapping[str, str]
    place: str | None
    created: float
    timeout: float

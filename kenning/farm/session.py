"""A synchronous client of labgrid's coordinator (its gRPC API), every call with a deadline.

An asyncio loop in a daemon thread owns the gRPC channel and the client stream
(:mod:`kenning.farm.channel`): the coordinator knows a client by the name it sends first on
that stream (``host/user``, as ``labgrid-client`` does), and that name owns reservations and
holds places. Each method submits one coroutine to the loop and waits for it with the time
that remains, so the loop keeps answering keep-alives while the caller works, and another
thread (a lease refresher) may use the same session. gRPC's errors become kenning's in
:meth:`~kenning.farm.channel.CoordinatorChannel.call`, the one place they are converted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kenning.farm.channel import CoordinatorChannel
from kenning.farm.records import PlaceInfo, ReservationInfo, ReservationState


class FarmSession(CoordinatorChannel):
    """A client of one labgrid coordinator; open it with ``with FarmSession(ADDRESS) as s:``.

    Parameters
    ----------
    coordinator : str, optional
        ``HOST[:PORT]``; default ``$LG_COORDINATOR``.
    user, host : str, optional
        The client name's parts (default: labgrid's, see
        :func:`~kenning.farm.channel.default_identity`).
    timeout : float
        Seconds one call may take when the caller gives no deadline.

    Every method takes ``deadline`` (absolute, ``time.monotonic()``) and raises
    :class:`~kenning.farm.errors.CoordinatorError` when the coordinator refuses or cannot be
    reached, :class:`~kenning.farm.errors.FarmTimeoutError` when the call does not complete.
    """

    # -- the coordinator's calls -------------------------------------------------------
    def places(self, deadline: float | None = None) -> list[PlaceInfo]:
        """Every place, sorted by name."""
        got = self.call(
            "list places", lambda stub: stub.GetPlaces(self._pb2.GetPlacesRequest()), deadline
        )
        return sorted((self._place(p) for p in got.places), key=lambda place: place.name)

    def reservations(self, deadline: float | None = None) -> list[ReservationInfo]:
        """Every reservation the coordinator keeps."""
        request = self._pb2.GetReservationsRequest()
        got = self.call("list reservations", lambda stub: stub.GetReservations(request), deadline)
        return [self._reservation(r) for r in got.reservations]

    def create_reservation(
        self, filters: Mapping[str, str], prio: float = 0.0, deadline: float | None = None
    ) -> ReservationInfo:
        """Ask for a place whose tags include ``filters``; higher ``prio`` is served first."""
        wanted = {"main": self._pb2.Reservation.Filter(filter=dict(filters))}
        request = self._pb2.CreateReservationRequest(filters=wanted, prio=float(prio))
        got = self.call(
            "create reservation", lambda stub: stub.CreateReservation(request), deadline
        )
        return self._reservation(got.reservation)

    def poll_reservation(self, token: str, deadline: float | None = None) -> ReservationInfo:
        """The reservation's state (polling also keeps it from expiring)."""
        request = self._pb2.PollReservationRequest(token=token)
        got = self.call(
            f"poll reservation {token}", lambda stub: stub.PollReservation(request), deadline
        )
        return self._reservation(got.reservation)

    def cancel_reservation(self, token: str, deadline: float | None = None) -> None:
        """Drop a reservation (anyone's: labgrid does not check the owner)."""
        request = self._pb2.CancelReservationRequest(token=token)
        self.call(
            f"cancel reservation {token}", lambda stub: stub.CancelReservation(request), deadline
        )

    def acquire(self, place: str, deadline: float | None = None) -> None:
        """Lock ``place`` for this client (it must be free or reserved for this client)."""
        request = self._pb2.AcquirePlaceRequest(placename=place)
        self.call(f"acquire place {place}", lambda stub: stub.AcquirePlace(request), deadline)

    def release(
        self, place: str, fromuser: str | None = None, deadline: float | None = None
    ) -> None:
        """Unlock ``place``; with ``fromuser``, only if that client still holds it."""
        only = {"fromuser": fromuser} if fromuser else {}
        request = self._pb2.ReleasePlaceRequest(placename=place, **only)
        self.call(f"release place {place}", lambda stub: stub.ReleasePlace(request), deadline)

    def set_tags(self, place: str, tags: Mapping[str, str], deadline: float | None = None) -> None:
        """Set tags of ``place``; an empty value deletes the tag."""
        request = self._pb2.SetPlaceTagsRequest(placename=place, tags=dict(tags))
        self.call(f"set tags of place {place}", lambda stub: stub.SetPlaceTags(request), deadline)

    def add_place(self, name: str, deadline: float | None = None) -> None:
        """Create an empty place."""
        request = self._pb2.AddPlaceRequest(name=name)
        self.call(f"create place {name}", lambda stub: stub.AddPlace(request), deadline)

    def add_match(self, place: str, pattern: str, deadline: float | None = None) -> None:
        """Add a resource match ``exporter/group/class[/name]`` (``*`` wildcards) to ``place``."""
        request = self._pb2.AddPlaceMatchRequest(placename=place, pattern=pattern)
        what = f"add match {pattern} to place {place}"
        self.call(what, lambda stub: stub.AddPlaceMatch(request), deadline)

    # -- conversions ---------------------------------------------------------------------
    @staticmethod
    def _place(p: Any) -> PlaceInfo:
        matches = tuple(
            "/".join([m.exporter, m.group, m.cls] + ([m.name] if m.HasField("name") else []))
            for m in p.matches
        )
        return PlaceInfo(
            name=p.name,
            tags=dict(p.tags),
            matches=matches,
            acquired=p.acquired or None,
            reservation=p.reservation or None,
            comment=p.comment,
            changed=p.changed,
        )

    @staticmethod
    def _reservation(r: Any) -> ReservationInfo:
        filters = dict(r.filters["main"].filter) if "main" in r.filters else {}
        return ReservationInfo(
            token=r.token,
            owner=r.owner,
            state=ReservationState(r.state),
            prio=r.prio,
            filters=filters,
            place=r.allocations.get("main"),
            created=r.created,
            timeout=r.timeout,
        )

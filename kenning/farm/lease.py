"""Holding a farm place while kenning works: reserve, wait in the queue, lock, lease, release.

labgrid gives the queue (reservations with a priority, served highest first, then oldest)
and the lock (acquiring a place). What it does when a client dies, read from labgrid 26.0.1's
coordinator:

- a *waiting* or *allocated* reservation carries a timeout 60 s ahead that every poll
  pushes on; unpolled, it expires (the coordinator looks every 15 s) and its place is freed;
- an *acquired* reservation never expires, and an acquired place stays acquired until
  someone releases it: the coordinator records the holder's name, not its connection.

So a holder killed with ``kill -9`` keeps its board forever. Kenning adds a **lease**:
before locking, the holder writes the tag ``kenning_lease=<expiry>_<token>_<holder>`` on the
place and rewrites it every ``refresh`` seconds (default a sixth of the timeout) with the
expiry ``timeout`` seconds ahead (default :data:`DEFAULT_LEASE_TIMEOUT`). Any kenning client
(every waiting one, on each poll, and ``invoke farm.reap``) frees a place whose lease expired
(:func:`reap_stale`) when the place is still the lease writer's: its reservation is the
lease's token, or it has none and is held by the lease's holder or by nobody. It cancels
the reservation, releases the place from its holder and deletes the tag. Places locked
without a kenning lease are never touched. Expiry is wall-clock time: the hosts' clocks must
agree to well within the timeout (NTP).

The order of cancelling and releasing matters in labgrid 26: a place frees for the next
reservation only in a scheduling pass that sees it neither acquired nor allocated, and a
cancel clears the allocation only at the end of its pass. So the reservation is cancelled
first and the place released second (that release's pass hands the place on at once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from kenning.farm.errors import (
    FarmError,
    FarmTimeoutError,
    LeaseLostError,
    ReservationTimeoutError,
)
from kenning.farm.queue import QueueStatus, format_status, queue_status
from kenning.farm.reap import cancel, find_place, reap_stale
from kenning.farm.records import ReservationState
from kenning.farm.session import FarmSession
from kenning.farm.tags import LEASE_TAG, check_tags, lease_value, tag_text

#: seconds a lease lasts without a refresh before other kenning clients release the place
DEFAULT_LEASE_TIMEOUT = 60.0
log = logging.getLogger(__name__)


class Lease:
    """A place this client holds under a kenning lease; leaving the ``with`` releases it.

    Made by :func:`reserve`. :attr:`lost` says why the place was lost while held (None while
    it is held); :meth:`check` raises then.
    """

    def __init__(
        self, session: FarmSession, place: str, token: str, timeout: float, refresh: float
    ) -> None:
        self.session = session
        self.place = place
        self.token = token
        self.timeout = timeout
        self.refresh = refresh
        self.lost: str | None = None
        self._until = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._released = False

    def _write(self, deadline: float) -> None:
        until = time.time() + self.timeout
        value = lease_value(until, self.token, self.session.identity)
        self.session.set_tags(self.place, {LEASE_TAG: value}, deadline)
        self._until = until

    def _take(self, deadline: float) -> None:
        # the lease first: a holder that dies before its lock still leaves a lease to expire
        self._write(deadline)
        self.session.acquire(self.place, deadline)
        self._thread = threading.Thread(
            target=self._refresh_loop, daemon=True, name=f"lease-{self.place}"
        )
        self._thread.start()

    def _refresh_loop(self) -> None:
        try:
            self._refresh_until_lost()
        finally:  # whatever ends the loop but a release, the lease no longer reads as held
            if not self._stop.is_set() and self.lost is None:
                self.lost = "its lease stopped being refreshed"

    def _refresh_until_lost(self) -> None:
        while not self._stop.wait(self.refresh):
            deadline = time.monotonic() + min(self.session.timeout, self.refresh)
            try:
                place = find_place(self.session, self.place, deadline)
                if (
                    place is None
                    or place.acquired != self.session.identity
                    or ((place.reservation or "").lower() != self.token.lower())
                ):
                    holder = place.acquired if place else "nobody (place deleted)"
                    self.lost = f"it is now held by {holder or 'nobody'}"
                    return
                self._write(deadline)
                self.session.poll_reservation(self.token, deadline)
            except Exception as exc:  # noqa: BLE001 - any failure is retried until the lease runs out
                if time.time() > self._until:
                    self.lost = (
                        f"the lease expired: refreshing failed for {self.timeout:.0f} s "
                        f"(last: {type(exc).__name__}: {exc})"
                    )
                    return
                log.warning(
                    "place %s: refreshing the lease failed (will retry): %s: %s",
                    self.place,
                    type(exc).__name__,
                    exc,
                )

    def check(self) -> None:
        """Raise :class:`LeaseLostError` if the place was lost while held."""
        if self.lost is None and self._thread is not None and not self._thread.is_alive():
            if not self._stop.is_set():
                self.lost = "its lease stopped being refreshed"
        if self.lost:
            raise LeaseLostError(self.session.coordinator, self.place, self.lost)

    def release(self, deadline: float | None = None) -> None:
        """Cancel the reservation, unlock the place, delete the lease (each only if still ours).

        Raises
        ------
        FarmError
            Naming every step that failed (after trying all of them).
        """
        if self._released:
            return
        self._released = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.session.timeout)
        deadline = deadline or time.monotonic() + self.session.timeout
        problems = []
        try:  # cancel first, then release: see the module's docstring
            place = find_place(self.session, self.place, deadline)
            cancel(self.session, self.token, deadline)
        except FarmError as exc:
            place, problems = None, [str(exc)]
        try:
            if (
                place is not None
                and place.acquired == self.session.identity
                and (tag_text(place.reservation or self.token) == tag_text(self.token))
            ):
                self.session.release(self.place, self.session.identity, deadline)
            place = find_place(self.session, self.place, deadline)
            if place is not None and place.lease and place.lease.token == tag_text(self.token):
                self.session.set_tags(self.place, {LEASE_TAG: ""}, deadline)
        except FarmError as exc:
            problems.append(str(exc))
        if problems:
            raise FarmError(
                f"releasing place {self.place}: " + "; ".join(problems),
                coordinator=self.session.coordinator,
            )

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.release()
        except FarmError as problem:
            if exc is None:
                raise
            log.error("%s (while handling: %s)", problem, exc)
        if exc is None:
            self.check()


def reserve(
    session: FarmSession,
    filters: Mapping[str, str],
    *,
    prio: float = 0.0,
    wait: float = 600.0,
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
    refresh: float | None = None,
    poll: float = 1.0,
    progress: Callable[[QueueStatus], None] | None = None,
) -> Lease:
    """Reserve a place whose tags include ``filters``, wait for it, lock it under a lease.

    Use as ``with reserve(session, {"arch": "arm64"}) as lease: ...``: the place is released
    when the block ends, by success, exception or Ctrl-C.

    Parameters
    ----------
    session : FarmSession
        An open session.
    filters : mapping
        Tags the place must have (``name`` is the place's name).
    prio : float
        Higher is served first; equal priorities in order of arrival.
    wait : float
        Seconds to wait for a place (one deadline for the whole wait and the lock).
    lease_timeout : float
        Seconds the lease lasts without a refresh.
    refresh : float, optional
        Seconds between refreshes (default ``lease_timeout / 6``).
    poll : float
        Seconds between looks at the queue.
    progress : callable, optional
        Called with a :class:`QueueStatus` after each look.

    Returns
    -------
    Lease
        The held place.

    Raises
    ------
    ReservationTimeoutError
        If no place was allocated within ``wait`` (the reservation is cancelled).
    FarmError
        If the reservation became invalid, or the coordinator failed.
    """
    filters = check_tags(filters, "filter")
    start = time.monotonic()
    deadline = start + wait
    token = session.create_reservation(filters, prio, deadline).token
    lease = None
    status = None
    try:
        while True:
            if time.monotonic() >= deadline:
                text = format_status(status) if status else "no answer yet"
                raise ReservationTimeoutError(session.coordinator, filters, wait, text)
            try:
                mine = session.poll_reservation(token, deadline)
                if mine.place and mine.state is ReservationState.ALLOCATED:
                    break
                if mine.state in (ReservationState.EXPIRED, ReservationState.INVALID):
                    raise FarmError(
                        f"reservation {token} became {mine.state.name.lower()}",
                        coordinator=session.coordinator,
                    )
                places = session.places(deadline)
                if reap_stale(session, places, deadline=deadline):
                    continue
                status = queue_status(
                    filters,
                    token,
                    session.reservations(deadline),
                    places,
                    time.monotonic() - start,
                )
            except FarmTimeoutError:
                continue  # the check at the top says what was awaited
            if progress is not None and status is not None:
                progress(status)
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))
        lease = Lease(session, mine.place, token, lease_timeout, refresh or lease_timeout / 6)
        lease._take(deadline)
        return lease
    except BaseException:
        cleanup = time.monotonic() + session.timeout
        try:
            if lease is not None:
                lease.release(cleanup)
            else:
                cancel(session, token, cleanup)
        except FarmError as problem:
            log.error("%s (after the reservation failed)", problem)
        raise

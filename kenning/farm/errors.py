"""Errors of the board farm (labgrid's coordinator, places, reservations, kenning's leases).

::

    KenningError
    └── FarmError                       the farm could not do what was asked
        ├── CoordinatorError            a call to the coordinator failed or it cannot be reached
        ├── FarmTimeoutError            a call or a wait passed its deadline
        │   └── ReservationTimeoutError no matching place was allocated in time
        ├── LeaseLostError              a held place was released or taken over during the work
        └── FarmExportError             the inventory cannot be turned into exporter and places

gRPC's and labgrid's own exceptions are converted in one place
(:meth:`kenning.farm.session.FarmSession.call`), with ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Mapping

from kenning.utils.errors import KenningError


def _filters(filters: Mapping[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(filters.items())) or "(any place)"


class FarmError(KenningError):
    """The farm could not do what was asked.

    Parameters
    ----------
    message : str
        The full message.
    coordinator : str, optional
        The coordinator's address (``HOST:PORT``).
    """

    def __init__(self, message: str, *, coordinator: str | None = None) -> None:
        self.coordinator = coordinator
        super().__init__(message)


class CoordinatorError(FarmError):
    """A call to the coordinator failed, or the coordinator cannot be reached.

    Parameters
    ----------
    coordinator : str
        The coordinator's address.
    operation : str
        What was asked, e.g. ``"acquire place rpi4-1"``.
    code : str
        gRPC's status code name (``UNAVAILABLE``, ``FAILED_PRECONDITION``, ...).
    details : str
        The coordinator's own words.
    """

    def __init__(self, coordinator: str, operation: str, code: str, details: str) -> None:
        self.operation = operation
        self.code = code
        self.details = details
        super().__init__(
            f"coordinator {coordinator}: {operation} failed ({code}): {details}",
            coordinator=coordinator,
        )


class FarmTimeoutError(FarmError):
    """A call or a wait passed its deadline.

    Parameters
    ----------
    coordinator : str
        The coordinator's address.
    what : str
        What was awaited.
    seconds : float
        How long it was given.
    """

    def __init__(self, coordinator: str, what: str, seconds: float, detail: str = "") -> None:
        self.what = what
        self.seconds = seconds
        extra = f"; {detail}" if detail else ""
        super().__init__(
            f"coordinator {coordinator}: {what} did not complete within {seconds:.1f} s{extra}",
            coordinator=coordinator,
        )


class ReservationTimeoutError(FarmTimeoutError):
    """No place matching the filters was allocated before the deadline.

    Parameters
    ----------
    coordinator : str
        The coordinator's address.
    filters : mapping
        The tags asked for.
    seconds : float
        How long it waited.
    status : str
        The last queue status seen (position, matching places and who holds them).
    """

    def __init__(
        self, coordinator: str, filters: Mapping[str, str], seconds: float, status: str
    ) -> None:
        self.filters = dict(filters)
        self.status = status
        super().__init__(
            coordinator, f"reservation of a place with {_filters(filters)}", seconds, status
        )


class LeaseLostError(FarmError):
    """A place kenning held was released or taken over while the work ran.

    Parameters
    ----------
    coordinator : str
        The coordinator's address.
    place : str
        The place.
    reason : str
        What was seen (who holds it now, or how long refreshing failed).
    """

    def __init__(self, coordinator: str, place: str, reason: str) -> None:
        self.place = place
        self.reason = reason
        super().__init__(
            f"coordinator {coordinator}: lost place {place} during the work: {reason}",
            coordinator=coordinator,
        )


class FarmExportError(FarmError):
    """The inventory cannot be turned into an exporter configuration and places."""

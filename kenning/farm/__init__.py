"""A shared board farm on labgrid: places for boards, reservations, locks, kenning's lease.

labgrid (``kenning[farm]``) is the engine: a coordinator over gRPC, exporters that publish
each board's resources (its SSH endpoint as a ``NetworkService``, its UART as a serial
port), places with tags, reservations with a priority, locks. Kenning adds little on top:

- :mod:`~kenning.farm.exportconfig`: inventory boards -> exporter configuration and places;
- :class:`~kenning.farm.session.FarmSession`: a synchronous client, every call with a deadline;
- :func:`~kenning.farm.lease.reserve`: wait in the queue, lock, keep a lease, release (also
  on errors and Ctrl-C); :func:`~kenning.farm.lease.reap_stale` frees places whose holder
  died (labgrid never does; see :mod:`kenning.farm.lease` for the rule and its timeout);
- :func:`~kenning.farm.listing.format_places`: places and who holds them.

docs/farm.md says how to run a coordinator and exporters.
"""

from __future__ import annotations

from kenning.farm.errors import (
    CoordinatorError,
    FarmError,
    FarmExportError,
    FarmTimeoutError,
    LeaseLostError,
    ReservationTimeoutError,
)
from kenning.farm.exportconfig import (
    FarmExport,
    PlaceSpec,
    apply_places,
    export_inventory,
    load_places,
    write_export,
)
from kenning.farm.lease import DEFAULT_LEASE_TIMEOUT, Lease, reserve
from kenning.farm.listing import format_places, progress_printer
from kenning.farm.queue import QueueStatus, format_status
from kenning.farm.reap import reap_stale
from kenning.farm.records import PlaceInfo, ReservationInfo, ReservationState
from kenning.farm.session import FarmSession
from kenning.farm.tags import board_tags, parse_filters

__all__ = [
    "DEFAULT_LEASE_TIMEOUT",
    "CoordinatorError",
    "FarmError",
    "FarmExport",
    "FarmExportError",
    "FarmSession",
    "FarmTimeoutError",
    "Lease",
    "LeaseLostError",
    "PlaceInfo",
    "PlaceSpec",
    "QueueStatus",
    "ReservationInfo",
    "ReservationState",
    "ReservationTimeoutError",
    "apply_places",
    "board_tags",
    "export_inventory",
    "format_places",
    "format_status",
    "load_places",
    "parse_filters",
    "progress_printer",
    "reap_stale",
    "reserve",
    "write_export",
]

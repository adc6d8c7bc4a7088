"""Place tags, leases and the queue position: the pure parts of kenning.farm."""

from __future__ import annotations

import pytest

from kenning.farm import FarmError, PlaceInfo, ReservationInfo, ReservationState, parse_filters
from kenning.farm.listing import format_places
from kenning.farm.queue import format_status, queue_status
from kenning.farm.tags import LEASE_TAG, lease_value, matches, parse_lease


def test_filters_are_key_value_pairs_with_labgrid_keys() -> None:
    assert parse_filters(["arch=arm64", "runtime_tvm=yes"]) == {
        "arch": "arm64", "runtime_tvm": "yes"
    }  # fmt: skip
    for bad in ("arch", "arch=", "Arch=arm64", "a=arm64", "arch=ARM64", "arch=arm-64"):
        with pytest.raises(FarmError, match="filter"):
            parse_filters([bad])


def test_a_lease_round_trips_and_names_token_and_holder() -> None:
    value = lease_value(1_700_000_000.25, "AB12CD", "lab-host.lan/alice")
    assert value == "1700000000250_ab12cd_lab_host_lan_alice"
    lease = parse_lease(value)
    assert lease is not None and lease.until == 1_700_000_000.25
    assert (lease.token, lease.holder) == ("ab12cd", "lab_host_lan_alice")
    assert parse_lease("yes") is None and parse_lease(None) is None


def test_filters_match_tags_and_the_implicit_name() -> None:
    tags = {"arch": "arm64", "runtime_tflite": "yes"}
    assert matches({"arch": "arm64"}, "rpi", tags)
    assert matches({"name": "rpi", "runtime_tflite": "yes"}, "rpi", tags)
    assert not matches({"arch": "amd64"}, "rpi", tags)
    assert not matches({"runtime_tvm": "yes"}, "rpi", tags)


def _res(token: str, prio: float, created: float, filters: dict[str, str],
         state: ReservationState = ReservationState.WAITING) -> ReservationInfo:  # fmt: skip
    return ReservationInfo(token, f"h/{token.lower()}", state, prio, filters, None, created, 0.0)


def test_the_position_counts_competing_reservations_in_the_coordinators_order() -> None:
    arm, amd = {"arch": "arm64"}, {"arch": "amd64"}
    reservations = [
        _res("OLD", 0, 1.0, arm),
        _res("MINE", 0, 2.0, arm),
        _res("URGENT", 9, 3.0, {"name": "rpi"}),  # any arch: competes
        _res("OTHER", 9, 0.5, amd),  # another arch: does not
        _res("DONE", 9, 0.1, arm, ReservationState.ACQUIRED),
    ]
    lease = lease_value(1030.0, "DONE", "h/done")
    places = [PlaceInfo("rpi", {"arch": "arm64", LEASE_TAG: lease}, acquired="h/done",
                        reservation="DONE"),
              PlaceInfo("pc", {"arch": "amd64"})]  # fmt: skip
    status = queue_status(arm, "MINE", reservations, places, waited=12.0, now=1000.0)
    assert (status.position, status.waiting) == (3, 3)
    assert status.places == (("rpi", "held by h/done, lease 30 s left"),)
    assert format_status(status) == (
        "waiting 12 s for arch=arm64 (reservation MINE): position 3 of 3; "
        "rpi: held by h/done, lease 30 s left"
    )
    table = format_places(places, reservations, now=1040.0)
    assert "stale 10 s" in table and "h/done (acquired)" in table
    assert "4 reservation(s) waiting" in table

"""The board farm against a real labgrid coordinator and exporter on loopback.

Timeouts are scaled down through parameters (a lease of 2 s, polls of 0.1 s) so each test
takes seconds; the rules are the ones documented in docs/farm.md.
"""
# ruff: noqa: F811 - pytest fixtures imported from conftest_farm are redefined as arguments

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT
from conftest_farm import Farm, coordinator, farm, labgrid_tool, processes, start_exporter  # noqa: F401
from conftest_tasks import invoke

from kenning.farm import (
    CoordinatorError,
    FarmSession,
    LeaseLostError,
    PlaceInfo,
    QueueStatus,
    ReservationTimeoutError,
    reserve,
)

pytestmark = pytest.mark.farm
ARM = {"arch": "arm64"}


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not true within {seconds} s"
        time.sleep(0.05)


def _place(session: FarmSession, name: str) -> PlaceInfo:
    return next(p for p in session.places() if p.name == name)


def test_places_from_the_inventory_are_listed_with_holders(farm: Farm) -> None:
    with FarmSession(farm.address, user="alice") as alice:
        assert [p.name for p in alice.places()] == ["amd-1", "arm-1"]
        arm = _place(alice, "arm-1")
        assert arm.matches == ("lab/arm-1/*",)
        assert arm.tags["arch"] == "arm64" and arm.tags["runtime_tvm"] == "yes"
        assert arm.tags["tag_cortex_a72"] == "yes" and arm.acquired is None
        assert "lab/arm-1/NetworkService/NetworkService" in alice.resources()
        with reserve(alice, ARM, poll=0.1, lease_timeout=30) as lease:
            assert lease.place == "arm-1"
            held = _place(alice, "arm-1")
            assert held.acquired == alice.identity and held.lease is not None
            listing = invoke("boards", "--farm", farm.address, timeout=60)
            assert listing.returncode == 0, listing.stderr
            row = next(line for line in listing.stdout.splitlines() if line.startswith("arm-1"))
            assert alice.identity in row and "s left" in row, listing.stdout
            assert "amd-1" in listing.stdout and "free" in listing.stdout
        released = _place(alice, "arm-1")
        assert released.acquired is None and released.lease is None
        assert alice.reservations() == []


def test_the_second_client_waits_in_the_queue_until_the_first_releases(farm: Farm) -> None:
    statuses: list[QueueStatus] = []
    got: dict[str, float] = {}
    with FarmSession(farm.address, user="alice") as alice, \
            FarmSession(farm.address, user="bob") as bob:  # fmt: skip
        first = reserve(alice, ARM, poll=0.1)

        def second() -> None:
            with reserve(bob, ARM, poll=0.1, wait=30, progress=statuses.append) as lease:
                got[lease.place] = time.monotonic()

        waiter = threading.Thread(target=second)
        waiter.start()
        try:
            _until(lambda: bool(statuses))
            time.sleep(0.5)
            assert not got, "bob got a place that alice holds"
            seen = statuses[-1]
        finally:
            released_at = time.monotonic()
            first.release()
            waiter.join(15)
        assert seen.position == 1 and seen.waiting == 1
        assert [name for name, _ in seen.places] == ["arm-1"]
        assert re.fullmatch(rf"held by {alice.identity}, lease \d+ s left", seen.places[0][1])
        assert got["arm-1"] >= released_at


def test_a_higher_priority_is_served_first(farm: Farm) -> None:
    order: list[str] = []
    statuses: dict[str, list[QueueStatus]] = {"low": [], "high": []}
    with FarmSession(farm.address, user="alice") as alice:
        held = reserve(alice, ARM, poll=0.1)
        sessions = {name: FarmSession(farm.address, user=name).open() for name in statuses}

        def wait(name: str, prio: float) -> None:
            with reserve(sessions[name], ARM, prio=prio, poll=0.1, wait=30,
                         progress=statuses[name].append):  # fmt: skip
                order.append(name)
                time.sleep(0.3)

        low = threading.Thread(target=wait, args=("low", 0.0))
        low.start()
        _until(lambda: bool(statuses["low"]))
        high = threading.Thread(target=wait, args=("high", 5.0))
        high.start()
        try:
            _until(lambda: bool(statuses["high"]) and statuses["low"][-1].position == 2)
            assert statuses["high"][-1].position == 1
        finally:
            held.release()
        low.join(15), high.join(15)
        for session in sessions.values():
            session.close()
    assert order == ["high", "low"]


HOLDER = """\
import sys, time
from kenning.farm import FarmSession, reserve
with FarmSession(sys.argv[1], user="holder") as session:
    with reserve(session, {"arch": "arm64"}, lease_timeout=float(sys.argv[2]),
                 refresh=float(sys.argv[3]), poll=0.1, wait=20):
        print("held", flush=True)
        time.sleep(600)
"""


def test_a_killed_holder_loses_the_place_when_its_lease_expires(farm: Farm) -> None:
    lease_timeout, refresh = 2.0, 0.5
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, farm.address, str(lease_timeout), str(refresh)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        time.sleep(1.0)  # a few refreshes: the lease stays alive while the holder lives
        with FarmSession(farm.address, user="bob") as bob:
            assert _place(bob, "arm-1").acquired.endswith("/holder")
            os.kill(holder.pid, signal.SIGKILL)
            killed = time.monotonic()
            with reserve(bob, ARM, poll=0.1, wait=15) as lease:
                waited = time.monotonic() - killed
                assert lease.place == "arm-1"
                assert _place(bob, "arm-1").acquired == bob.identity
            # labgrid alone would keep it forever; the lease frees it within its timeout
            assert lease_timeout - refresh - 0.2 <= waited <= lease_timeout + 1.5, waited
            assert all(r.owner != "holder" for r in bob.reservations())
    finally:
        holder.kill()
        holder.wait(5)
        holder.stdout.close()


def test_the_place_is_released_when_the_work_fails(farm: Farm) -> None:
    with FarmSession(farm.address, user="alice") as alice:
        with pytest.raises(RuntimeError, match="benchmark broke"):
            with reserve(alice, {"arch": "amd64"}, poll=0.1):
                assert _place(alice, "amd-1").acquired == alice.identity
                raise RuntimeError("benchmark broke")
        place = _place(alice, "amd-1")
        assert place.acquired is None and place.lease is None and place.reservation is None
        assert alice.reservations() == []


def test_ctrl_c_while_waiting_cancels_the_reservation(farm: Farm) -> None:
    def interrupt(status: QueueStatus) -> None:
        raise KeyboardInterrupt

    with FarmSession(farm.address, user="alice") as alice, \
            FarmSession(farm.address, user="bob") as bob:  # fmt: skip
        with reserve(alice, ARM, poll=0.1):
            with pytest.raises(KeyboardInterrupt):
                reserve(bob, ARM, poll=0.1, progress=interrupt)
            assert [r.owner for r in alice.reservations()] == [alice.identity]


def test_a_wait_past_its_deadline_names_the_coordinator_filters_and_holder(farm: Farm) -> None:
    with FarmSession(farm.address, user="alice") as alice, \
            FarmSession(farm.address, user="bob") as bob:  # fmt: skip
        with reserve(alice, ARM, poll=0.1):
            start = time.monotonic()
            with pytest.raises(ReservationTimeoutError) as caught:
                reserve(bob, ARM, poll=0.1, wait=1.0)
            assert time.monotonic() - start < 3
            message = str(caught.value)
            assert farm.address in message and "arch=arm64" in message
            assert f"arm-1: held by {alice.identity}" in message and "position 1 of 1" in message
            assert [r.owner for r in alice.reservations()] == [alice.identity]


def test_a_place_kicked_by_labgrid_client_is_reported_as_lost(farm: Farm) -> None:
    with FarmSession(farm.address, user="alice") as alice:
        with pytest.raises(LeaseLostError, match="arm-1"):
            with reserve(alice, ARM, poll=0.1, lease_timeout=1.2, refresh=0.2) as lease:
                kick = subprocess.run(
                    [labgrid_tool("labgrid-client"), "-x", farm.address, "-p", "arm-1",
                     "release", "--kick"], capture_output=True, text=True, timeout=30,
                )  # fmt: skip
                assert kick.returncode == 0, kick.stdout + kick.stderr
                deadline = time.monotonic() + 5
                while lease.lost is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert lease.lost == "it is now held by nobody"
        assert _place(alice, "arm-1").lease is None


def test_a_refresh_that_fails_in_an_unforeseen_way_still_ends_in_a_lost_lease(
    farm: Farm, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the refresh thread caught one error type: any other killed it silently, and the
    # lease read as held for ever while no one refreshed it
    import kenning.farm.lease as lease_module

    with FarmSession(farm.address, user="alice") as alice:
        with pytest.raises(LeaseLostError, match="arm-1"):
            with reserve(alice, ARM, poll=0.1, lease_timeout=1.2, refresh=0.2) as lease:
                real = lease_module.find_place
                calls = []

                def broken(*args: object, **kwargs: object) -> object:
                    calls.append(1)
                    raise ValueError("an answer the client did not expect")

                monkeypatch.setattr(lease_module, "find_place", broken)
                _until(lambda: lease.lost is not None, 5.0)
                monkeypatch.setattr(lease_module, "find_place", real)
                assert len(calls) > 1  # retried, not given up at the first
                assert lease.lost.startswith("the lease expired: refreshing failed for 1 s")
                assert "ValueError: an answer the client did not expect" in lease.lost


def test_an_unreachable_coordinator_is_named_at_once(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port the OS gave and nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(CoordinatorError, match=f"127.0.0.1:{port}: connect failed"):
        FarmSession(f"127.0.0.1:{port}", timeout=5).open()
    assert time.monotonic() - start < 5

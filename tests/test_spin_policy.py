"""Adaptive reads stop polling when the CPU is contended, found for real (issue 28).

A real CPU hog is pinned to the core this test's thread is pinned to: a poll's yield then
gives the core away for a whole slice (:meth:`SpinPolicy.give_way` says stop), and the
thread's run-queue waits (``/proc/thread-self/schedstat``) make :meth:`SpinPolicy.should_poll`
say no for :data:`CONTENDED_S`. Both checks fail if their signal is switched off. On a core
of its own (seen quiet first: the hog gone, the core's waits small) polling goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kenning.runtimeprotocols.spinning import CHECK_S, PREEMPTED_S, SpinPolicy, _run_queue

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or _run_queue() is None,
    reason="needs Linux scheduler affinity and schedstat",
)


@contextmanager
def pinned(core: int) -> Iterator[None]:
    """This thread on ``core`` alone for the block."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextmanager
def hog(core: int) -> Iterator[None]:
    """A process burning ``core`` (started pinned there, killed after)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"]
    )
    try:
        time.sleep(0.3)  # it runs
        yield
    finally:
        proc.kill()
        proc.wait(10)


def _core() -> int:
    return max(os.sched_getaffinity(0))


def test_a_yield_that_gives_the_core_to_a_hog_stops_polling() -> None:
    core = _core()
    with pinned(core), hog(core):
        policy = SpinPolicy()
        stopped = any(policy.give_way() for _ in range(200))
        assert stopped, f"no yield lost the core for {PREEMPTED_S * 1e3:g} ms to a hog"
        assert not policy.should_poll()  # reads sleep at once for a while


def test_run_queue_waits_behind_a_hog_stop_polling() -> None:
    core = _core()
    with pinned(core), hog(core):
        policy = SpinPolicy()
        policy.should_poll()  # the first look at the scheduler's figures
        deadline = time.perf_counter() + 10 * CHECK_S
        while time.perf_counter() < deadline:  # work in short turns, as a session does
            end = time.perf_counter() + 1e-3
            while time.perf_counter() < end:
                pass
        assert not policy.should_poll(), "a thread behind a hog was not found contended"


def _quiet(seconds: float = 5.0) -> bool:
    """Whether this thread, within ``seconds``, waited under 2 % of 0.2 s for its core."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = _run_queue()
        time.sleep(0.2)
        after = _run_queue()
        assert before is not None and after is not None
        if after[0] - before[0] < 4e6:
            return True
    return False


def test_on_a_quiet_core_yields_come_back_and_polling_goes_on() -> None:
    core = _core()
    with pinned(core):
        assert _quiet(), "the core did not become quiet within 5 s (other work on it)"
        policy = SpinPolicy()
        lost = sum(policy.give_way() for _ in range(200))
        assert lost <= 2, f"{lost} of 200 yields lost the core on a quiet machine"
        if not lost:
            assert policy.should_poll()

"""When a read should poll before it sleeps: learned from the reads and the scheduler.

A reply on loopback usually comes within tens of microseconds, and waking a process that
slept in the kernel costs about as much again, on each side of every message; polling for a
short window saves that. But polling burns a CPU that other work may need: on a machine
whose cores are all busy, a process that polls competes with that work for the core, and the
scheduler lets the other work run its slice (a millisecond or more) before the poller runs
again, so the reply waits that long. A read that sleeps at once is woken as soon as its bytes
arrive, ahead of the busy work.

:class:`SpinPolicy` decides for one reader. It polls only while the previous wait ended inside
the window (polling pays), and not while the CPU is contended: every :data:`CHECK_S` it reads
how long this thread waited on the kernel's run queue per time it was given the CPU
(``/proc/thread-self/schedstat``). The processes of one session hand the CPU to each other
within microseconds; work that keeps every core busy makes a thread wait for whole slices.
When the mean wait exceeds :data:`CONTENDED_WAIT_S` and the waits add up to more than
:data:`CONTENDED_SHARE` of the time (not one unlucky turn), reads sleep at once, as
``--read-mode block`` does, for :data:`CONTENDED_S`; then polling is tried again.
``bench/protocol_limit.py --load N`` measures both placements.
"""

from __future__ import annotations

import time

#: seconds a read polls before it sleeps
SPIN_S = 100e-6
#: seconds between looks at the scheduler's figures
CHECK_S = 0.05
#: mean seconds on the run queue per turn on the CPU above which the CPU counts as contended
CONTENDED_WAIT_S = 300e-6
#: share of the time between looks spent on the run queue above which the CPU may be contended
CONTENDED_SHARE = 0.3
#: seconds reads sleep at once once the CPU was found contended
CONTENDED_S = 1.0
_SCHEDSTAT = "/proc/thread-self/schedstat"


def _run_queue() -> tuple[int, int] | None:
    """Nanoseconds this thread waited on the run queue, and its turns on the CPU."""
    try:
        with open(_SCHEDSTAT, "rb") as file:
            fields = file.read().split()
        return int(fields[1]), int(fields[2])
    except (OSError, ValueError, IndexError):  # no schedstat (an old or foreign kernel)
        return None


class SpinPolicy:
    """Whether the next read should poll for :attr:`window` seconds before it sleeps.

    Parameters
    ----------
    window : float
        Seconds a read polls.
    """

    def __init__(self, window: float = SPIN_S) -> None:
        self.window = window
        #: the previous wait ended inside the window (or nothing was read yet)
        self.paid = True
        #: ``time.perf_counter()`` before which reads sleep at once (the CPU is contended)
        self.calm_from = 0.0
        self._next_check = 0.0
        self._last: tuple[float, int, int] | None = None

    def should_poll(self) -> bool:
        """Whether polling paid last time and the CPU is not contended."""
        now = time.perf_counter()
        if now >= self._next_check:
            self._check(now)
        return self.paid and now >= self.calm_from

    def _check(self, now: float) -> None:
        self._next_check = now + CHECK_S
        current = _run_queue()
        last, self._last = self._last, (now, *current) if current is not None else None
        if current is None or last is None or now < self.calm_from:
            return
        waited, turns = (current[0] - last[1]) / 1e9, current[1] - last[2]
        # whole slices lost: long waits per turn, and a good part of the time spent waiting
        if (
            turns > 0
            and waited / turns > CONTENDED_WAIT_S
            and waited > CONTENDED_SHARE * (now - last[0])
        ):
            self.calm_from = now + CONTENDED_S

    def polled(self, got: bool) -> None:
        """A poll ended; ``got``: data came inside the window."""
        if not got:
            self.paid = False

    def slept(self, waited: float) -> None:
        """A read slept ``waited`` seconds for its data: poll next time if that was short."""
        self.paid = waited < self.window

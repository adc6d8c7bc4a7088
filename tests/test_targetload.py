"""The target's load series across hosts: a late peer lookup does not join the next series."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from kenning.core.monitor import SystemMonitor
from kenning.runtimeprotocols.targetload import TargetLoad


class SlowPipe(SystemMonitor):
    """A real sampler whose ``watch`` of a process takes 0.3 s to go out (a busy machine)."""

    def watch(self, related: Sequence[int]) -> None:
        if related:
            time.sleep(0.3)
        super().watch(related)


def test_a_peer_found_after_its_host_left_is_not_watched_in_the_next_series() -> None:
    load = TargetLoad(interval=0.05)
    load.monitor = SlowPipe(0.05).start()
    try:
        first = load.new_host()
        old_peer = os.getppid()  # any live process that is not the server's own
        lookup = threading.Thread(target=load.watch, args=(old_peer, first))
        lookup.start()  # the host's process was found: it is being watched...
        time.sleep(0.05)
        second = load.new_host()  # ...when that host has gone and the next one begins
        lookup.join(timeout=10)
        assert not lookup.is_alive()
        assert second == first + 1
        assert load.monitor.related == [], load.monitor.related  # the old peer is not the run's
    finally:
        load.stop()

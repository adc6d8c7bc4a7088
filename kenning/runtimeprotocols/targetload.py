"""What the target reports about itself: inference times and its load series.

The server keeps one load sampler for its whole life (so a host's connect does not wait
for a process to start) and begins a new series for each host. ``STATS`` hands the host
the times and the samples taken since the previous ``STATS``, with ``clock_s``, the series'
clock now, so the host can mark the phase it measured on the target's clock.

The host's process is found by a thread while its session goes on (:meth:`TargetLoad.watch`);
a lock keeps that from landing in the next host's series when the first host left meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kenning.core.monitor import SystemMonitor, peak_rss_bytes


class TargetLoad:
    """Inference times and load samples of one host's session on the target.

    Parameters
    ----------
    interval : float
        Seconds between load samples.
    peak_rss : callable
        The peak resident memory to report (the model's process's or the server's).
    """

    def __init__(
        self, interval: float = 0.2, peak_rss: Callable[[], int] = peak_rss_bytes
    ) -> None:
        self.interval = interval
        self.peak_rss = peak_rss
        self.monitor: SystemMonitor | None = None
        #: on-target seconds of each inference since the previous report
        self.inference_times: list[float] = []
        #: the number of the host whose series this is
        self.host = 0
        self._sent = 0
        #: held while the series changes hands or a host's process joins it
        self._lock = threading.Lock()

    def start(self) -> SystemMonitor:
        """Start the sampler once (before the server says it is listening).

        Raises
        ------
        MonitorError
            If the sampler does not start.
        """
        if self.monitor is None:
            self.monitor = SystemMonitor(self.interval).start()
        return self.monitor

    def stop(self) -> None:
        """Stop the sampler."""
        with self._lock:
            if self.monitor is not None:
                self.monitor.stop()
                self.monitor = None

    def new_host(self) -> int:
        """Begin a new series for a host; its number, for :meth:`watch` (its process)."""
        with self._lock:
            self.inference_times, self._sent = [], 0
            self.host += 1
            if self.monitor is not None:
                self.monitor.restart([])
            return self.host

    def watch(self, related: int, host: int) -> None:
        """Count ``related`` as host number ``host``'s process, if that host is still served."""
        with self._lock:
            if host == self.host and self.monitor is not None:
                self.monitor.watch([related])

    def report(self) -> dict[str, Any]:
        """Times and new load samples since the previous report (docs/protocol.md)."""
        times, self.inference_times = self.inference_times, []
        stats: dict[str, Any] = {"inference_time_s": times, "peak_rss_bytes": self.peak_rss()}
        if self.monitor is not None:
            stats["clock_s"] = self.monitor.now()
            system, self._sent = self.monitor.samples_since(self._sent)
            if system is not None:
                stats["system"] = system
        return stats

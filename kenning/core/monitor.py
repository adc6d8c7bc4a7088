"""What the machine that runs a model is doing meanwhile: a background sampler and a load probe.

:class:`SystemMonitor` samples, every ``interval`` seconds in a thread, the CPU usage per core,
this process's own CPU and resident memory, RAM, CPU frequency (where the machine reports
it), thermal throttling events (where ``/sys`` counts them) and, where an NVIDIA device and
``pynvml`` exist, GPU load and memory. CPU usage is computed from its own previous reading
(not psutil's process-wide one, which any other caller resets), so the first sample covers
the first interval and the last the time since the one before it; every series has one entry
per timestamp.

:func:`other_load_cores` turns the series into the CPU other processes used meanwhile, in
cores: the ``other load`` a run's verdict checks. The measuring processes are this one and,
where given, related ones (on a local board the host's tester, the server's peer).
"""

from __future__ import annotations

import glob
import os
import resource
import threading
import time
from collections.abc import Sequence
from typing import Any

import psutil

_THROTTLE = "/sys/devices/system/cpu/cpu*/thermal_throttle/*_throttle_count"


class _Gpu:
    """NVIDIA GPU readings through pynvml, or nothing when there is no device."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
        except Exception:  # noqa: BLE001 - no library, no driver or no device: all mean absent
            self.handles = []

    def read(self) -> tuple[float, int]:
        util = [self.nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self.handles]
        mem = [self.nvml.nvmlDeviceGetMemoryInfo(h).used for h in self.handles]
        return float(sum(util) / len(util)), int(sum(mem))


def peak_rss_bytes() -> int:
    """The largest resident set this process has had so far (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def throttle_events() -> int | None:
    """Thermal throttling events counted by the kernel so far (None where it does not count)."""
    total, found = 0, False
    for path in glob.glob(_THROTTLE):
        try:
            total += int(open(path).read().strip())
            found = True
        except (OSError, ValueError):
            continue
    return total if found else None


def _busy(times: Any) -> tuple[float, float]:
    """(busy, total) seconds of one ``cpu_times`` entry.

    Busy time is what processes ran (user, nice, system), summed from the tick-sampled
    fields: the kernel computes idle time precisely at each read but counts busy time in
    ticks, so ``total - idle`` over a short interval is biased. Interrupt time (the loopback
    traffic of the measurement itself, mostly) belongs to no process and is left out, as is
    steal (another guest ran).
    """
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system"))
    other = ("idle", "iowait", "steal", "irq", "softirq")
    return busy, busy + sum(getattr(times, name, 0.0) for name in other)


def _cpu_freq() -> list[float] | None:
    try:
        readings = psutil.cpu_freq(percpu=True)
    except (OSError, NotImplementedError, AttributeError):
        return None
    values = [float(r.current) for r in readings or [] if r.current]
    return values or None


class SystemMonitor:
    """Sample system load in a background thread while a ``with`` block runs.

    Parameters
    ----------
    interval : float
        Seconds between samples.
    related : sequence of int, optional
        PIDs of processes that take part in the measurement (their CPU counts as the run's,
        in ``process_cpu_percent``, not as other load).
    """

    def __init__(self, interval: float = 0.2, related: Sequence[int] = ()) -> None:
        self.interval = interval
        self.related = [pid for pid in related if pid != os.getpid()]
        self.start_time = 0.0
        self.series: dict[str, Any] = {
            "interval_s": interval,
            "timestamps": [],
            "cpu_percent": [],
            "process_cpu_percent": [],
            "process_rss_bytes": [],
            "ram_used_bytes": [],
            "ram_percent": [],
            "cpu_freq_mhz": [],
            "throttle_count": None,
            "gpu_available": False,
            "gpu_percent": None,
            "gpu_memory_bytes": None,
        }
        self.lock = threading.Lock()
        self._sampling = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gpu: _Gpu | None = None
        self._process = psutil.Process()
        self._related = []
        for pid in self.related:
            try:
                self._related.append(psutil.Process(pid))
            except psutil.Error:
                continue
        self._last_cores: list[Any] = []
        self._last_process = 0.0
        self._last_time = 0.0
        self._throttle_start: int | None = None

    def sample_now(self, min_age: float = 0.02) -> bool:
        """Take a sample now unless the last one is younger than ``min_age`` seconds.

        A server calls this when a host asks for statistics before the first periodic sample
        (a run shorter than the interval would otherwise have none).
        """
        if time.monotonic() - self._last_time < min_age:
            return False
        self._sample()
        return True

    def _sample(self) -> None:
        with self._sampling:
            self._take_sample()

    def _take_sample(self) -> None:
        now = time.monotonic()
        cores = psutil.cpu_times(percpu=True)
        own_s = self._own_cpu()
        mem = psutil.virtual_memory()
        percent = []
        for before, after in zip(self._last_cores, cores, strict=False):
            (b0, t0), (b1, t1) = _busy(before), _busy(after)
            percent.append(round(100.0 * (b1 - b0) / (t1 - t0), 2) if t1 > t0 else 0.0)
        wall = now - self._last_time
        process = 100.0 * (own_s - self._last_process) / wall if wall > 0 else 0.0
        self._last_cores, self._last_process, self._last_time = cores, own_s, now
        freq = _cpu_freq()
        with self.lock:
            s = self.series
            s["timestamps"].append(round(now - self.start_time, 4))
            s["cpu_percent"].append(percent)
            s["process_cpu_percent"].append(round(process, 2))
            s["process_rss_bytes"].append(int(self._process.memory_info().rss))
            s["ram_used_bytes"].append(int(mem.total - mem.available))
            s["ram_percent"].append(float(mem.percent))
            if s["cpu_freq_mhz"] is not None:
                if freq is None:
                    s["cpu_freq_mhz"] = None  # the machine does not say: unavailable, not 0
                else:
                    s["cpu_freq_mhz"].append(freq)
            if self._gpu is not None and self._gpu.handles:
                util, used = self._gpu.read()
                s["gpu_percent"].append(util)
                s["gpu_memory_bytes"].append(used)

    def _own_cpu(self) -> float:
        """CPU seconds of this process and the related ones (a related one that ended: 0)."""
        total = 0.0
        for process in [self._process, *self._related]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> SystemMonitor:
        """Start sampling."""
        self._gpu = _Gpu()
        if self._gpu.handles:
            self.series.update(gpu_available=True, gpu_percent=[], gpu_memory_bytes=[])
        self.start_time = self._last_time = time.monotonic()
        self._last_cores = psutil.cpu_times(percpu=True)
        self._last_process = self._own_cpu()
        self._throttle_start = throttle_events()
        self._thread = threading.Thread(target=self._loop, name="kenning-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Stop sampling (taking one last sample) and return the series."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._sample()
            end = throttle_events()
            if self._throttle_start is not None and end is not None:
                self.series["throttle_count"] = end - self._throttle_start
        return self.series

    def samples_since(self, start: int) -> tuple[dict[str, Any] | None, int]:
        """The samples from index ``start`` on (``None`` when there are none) and the new end.

        A run shorter than the interval gets a sample too (taken now).
        """
        if not self.series["timestamps"]:
            self.sample_now()
        series = self.snapshot()
        end = len(series["timestamps"])
        if end <= start:
            return None, start
        return {k: v[start:end] if isinstance(v, list) else v for k, v in series.items()}, end

    def snapshot(self) -> dict[str, Any]:
        """A copy of the series so far, safe to serialise while sampling goes on."""
        with self.lock:
            return {k: list(v) if isinstance(v, list) else v for k, v in self.series.items()}

    def __enter__(self) -> SystemMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: load samples must cover this long to estimate other load: the kernel counts CPU time in
#: 10 ms ticks, so a 20 ms window is +-0.5 cores of noise, one second +-0.01
MIN_LOAD_SPAN_S = 1.0


def other_load_cores(series: Any, min_span_s: float = MIN_LOAD_SPAN_S) -> float | None:
    """Mean CPU used by processes other than the measuring ones over a run, in cores.

    ``series`` is a results file's load series (``cpu_percent`` per core and the measuring
    processes' ``process_cpu_percent``); None when it has no such samples or they cover
    less than ``min_span_s`` seconds (too short to tell).
    """
    if series is None or not series.process_cpu_percent or not series.cpu_percent:
        return None
    starts = [0.0, *series.timestamps[:-1]]
    weighted = total = 0.0  # each sample weighs as long as the interval it covers
    for start, end, cores, own in zip(starts, series.timestamps, series.cpu_percent,
                                      series.process_cpu_percent, strict=False):  # fmt: skip
        span = max(0.0, end - start)
        weighted += span * max(0.0, sum(cores) - own) / 100.0
        total += span
    return weighted / total if total >= min_span_s and total > 0 else None


def peer_pid(local: tuple[str, int], peer: tuple[str, int]) -> int | None:
    """The process on this machine at the other end of a loopback TCP connection, if any.

    ``local`` and ``peer`` are the connection's addresses as this side sees them.
    """
    if not peer[0].startswith("127.") and peer[0] != "::1":
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if (
            conn.laddr
            and conn.raddr
            and tuple(conn.laddr)[:2] == tuple(peer)[:2]
            and tuple(conn.raddr)[:2] == tuple(local)[:2]
        ):
            return int(conn.pid) if conn.pid else None
    return None

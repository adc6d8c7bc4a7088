"""Measurements any block can write to, and a background system sampler.

:data:`collector` is the process-wide :class:`Measurements`: a compiler can
record its compile time, a runtime its load time, and the scenario stores the
lot in the results file. :class:`SystemMonitor` samples CPU per core, RAM and,
where an NVIDIA device and ``pynvml`` exist, GPU load and memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil


class Measurements:
    """A thread-safe dictionary of named values and series."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def set(self, name: str, value: Any) -> None:
        """Store one value under ``name``, replacing any earlier one."""
        with self._lock:
            self._data[name] = value

    def append(self, name: str, value: Any) -> None:
        """Append ``value`` to the series ``name``."""
        with self._lock:
            self._data.setdefault(name, []).append(value)

    def update(self, other: Measurements | dict[str, Any]) -> None:
        """Merge another collection; series are concatenated, values replaced."""
        items = other.to_dict() if isinstance(other, Measurements) else dict(other)
        with self._lock:
            for key, value in items.items():
                if isinstance(value, list) and isinstance(self._data.get(key), list):
                    self._data[key].extend(value)
                else:
                    self._data[key] = value

    def get(self, name: str, default: Any = None) -> Any:
        """The value or series stored under ``name``."""
        with self._lock:
            return self._data.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy of everything recorded."""
        with self._lock:
            return {k: list(v) if isinstance(v, list) else v for k, v in self._data.items()}

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Append the duration of the ``with`` body, in seconds, to series ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.append(name, time.perf_counter() - start)


#: the process-wide collector
collector = Measurements()


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


class SystemMonitor:
    """Sample system load in a background thread while a ``with`` block runs.

    Parameters
    ----------
    interval : float
        Seconds between samples.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.start_time = 0.0
        self.series: dict[str, Any] = {
            "interval_s": interval,
            "timestamps": [],
            "cpu_percent": [],
            "ram_used_bytes": [],
            "ram_percent": [],
            "gpu_available": False,
            "gpu_percent": None,
            "gpu_memory_bytes": None,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gpu: _Gpu | None = None

    def _sample(self) -> None:
        mem = psutil.virtual_memory()
        s = self.series
        s["timestamps"].append(round(time.monotonic() - self.start_time, 4))
        s["cpu_percent"].append(psutil.cpu_percent(percpu=True))
        s["ram_used_bytes"].append(int(mem.total - mem.available))
        s["ram_percent"].append(float(mem.percent))
        if self._gpu is not None and self._gpu.handles:
            util, used = self._gpu.read()
            s["gpu_percent"].append(util)
            s["gpu_memory_bytes"].append(used)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> SystemMonitor:
        """Start sampling."""
        self._gpu = _Gpu()
        if self._gpu.handles:
            self.series.update(gpu_available=True, gpu_percent=[], gpu_memory_bytes=[])
        self.start_time = time.monotonic()
        psutil.cpu_percent(percpu=True)  # the first call only sets psutil's baseline
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
        return self.series

    def snapshot(self) -> dict[str, Any]:
        """A copy of the series so far, safe to serialise while sampling goes on."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self.series.items()}

    def __enter__(self) -> SystemMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

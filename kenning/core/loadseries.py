"""The load series a run's results keep: its fields, and what one sample of the sampler adds.

A series holds one entry per sample in every list (timestamps in seconds since the series
began); :class:`kenning.core.resultparts.TimeSeries` validates it in a results file. The
sampler's records are described in :mod:`kenning.core.sampler`.
"""

from __future__ import annotations

from typing import Any


def empty_series(interval: float) -> dict[str, Any]:
    """A series with no samples (the fields of :class:`kenning.core.resultparts.TimeSeries`)."""
    return {
        "interval_s": interval,
        "timestamps": [],
        "cpu_percent": [],
        "process_cpu_percent": [],
        "process_rss_bytes": [],
        "ram_used_bytes": [],
        "ram_percent": [],
        "cpu_freq_mhz": [],
        "cpu_freq_source": None,
        "throttle_counts": [],
        "throttle_count": None,
        "other_processes": [],
        "other_wait_percent": [],
        "gpu_available": False,
        "gpu_percent": None,
        "gpu_memory_bytes": None,
        "sampler": "process",
        "window_start_s": None,
        "window_end_s": None,
        "monitor_error": None,
    }


def add_sample(series: dict[str, Any], record: dict[str, Any], start_time: float) -> None:
    """Add one sampler record to ``series`` (one that came before ``start_time`` is dropped)."""
    at = float(record["t"]) - start_time
    if at < 0:
        return  # before the current series began
    series["timestamps"].append(round(at, 4))
    series["cpu_percent"].append(record["cores"])
    series["process_cpu_percent"].append(record["own"])
    series["process_rss_bytes"].append(record["rss"])
    series["ram_used_bytes"].append(record["ram_used"])
    series["ram_percent"].append(record["ram_percent"])
    series["other_processes"].append(record["top"])
    if record.get("wait") is None:
        series["other_wait_percent"] = None  # the kernel does not count run-queue waits
    elif series["other_wait_percent"] is not None:
        series["other_wait_percent"].append(record["wait"])
    series["throttle_counts"].append(record["throttle"])
    counts = [c for c in series["throttle_counts"] if c is not None]
    series["throttle_count"] = counts[-1] - counts[0] if counts else None
    if record["freq"] is None:
        series["cpu_freq_mhz"] = None  # the machine does not say: unavailable, not 0
    elif series["cpu_freq_mhz"] is not None:
        series["cpu_freq_mhz"].append(record["freq"])
        series["cpu_freq_source"] = record["freq_source"]
    if "gpu" in record:
        if not series["gpu_available"]:
            series.update(gpu_available=True, gpu_percent=[], gpu_memory_bytes=[])
        series["gpu_percent"].append(record["gpu"][0])
        series["gpu_memory_bytes"].append(int(record["gpu"][1]))

"""What the load sampler reads: ``/proc`` for CPU, processes and memory, ``/sys`` for the clock.

Standard library only: :mod:`kenning.core.sampler` runs these in a process of its own that
must start in tens of milliseconds on any target with kenning's Python. Counts are
cumulative (ticks, nanoseconds since a process started); the sampler takes differences.
"""

from __future__ import annotations

import glob
import os
from typing import NamedTuple

#: bytes per memory page (``statm`` counts in these)
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: kernel ticks per second (``utime`` and ``stime`` count in these)
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def read_text(path: str) -> str | None:
    """The file's text (ASCII, undecodable bytes replaced), or None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("ascii", "replace")
    except OSError:
        return None


def core_times() -> list[tuple[int, int]]:
    """(busy, total) ticks of each core from ``/proc/stat``."""
    out = []
    for line in (read_text("/proc/stat") or "").splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            f = [int(v) for v in line.split()[1:9]]
            f += [0] * (8 - len(f))
            busy = f[0] + f[1] + f[2]  # user, nice, system
            out.append((busy, busy + f[3] + f[4] + f[5] + f[6] + f[7]))  # + idle..steal
    return out


#: ``PF_KTHREAD`` in a process's flags (``/proc/PID/stat``): a kernel thread
KERNEL_THREAD = 0x00200000


class Proc(NamedTuple):
    """One process as ``/proc/PID/stat`` shows it."""

    name: str
    ppid: int
    start: int  # ticks after boot: with the PID, names the process
    ticks: int  # CPU used so far, user and system
    kernel: bool  # a kernel thread


def process_table() -> dict[int, Proc]:
    """Every process by PID."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        text = read_text(f"/proc/{entry}/stat")
        if not text:
            continue
        close = text.rfind(")")
        name = text[text.find("(") + 1 : close]
        fields = text[close + 2 :].split()
        try:
            ppid, flags, utime, stime, start = (int(fields[i]) for i in (1, 6, 11, 12, 19))
        except (IndexError, ValueError):
            continue
        table[int(entry)] = Proc(name, ppid, start, utime + stime, bool(flags & KERNEL_THREAD))
    return table


def run_delays(pids: set[int]) -> dict[int, int]:
    """Nanoseconds each process's live threads have waited on a run queue, summed."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        fields = [(read_text(f"/proc/{pid}/task/{tid}/schedstat") or "").split() for tid in tids]
        out[pid] = sum(int(f[1]) for f in fields if len(f) > 1 and f[1].isdigit())
    return out


def descendants(roots: set[int], table: dict[int, Proc]) -> set[int]:
    """``roots`` and every process below them that is alive."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, stack = set(), [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, ()))
    return found


def memory() -> tuple[int, float]:
    """RAM in use (total minus available) in bytes and as a percentage."""
    values = {}
    for line in (read_text("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable"):
            values[key] = int(rest.split()[0]) * 1024
    total = values.get("MemTotal", 0)
    used = total - values.get("MemAvailable", total)
    return used, round(100.0 * used / total, 2) if total else 0.0


class ClockSource:
    """Each core's clock and the throttling count, read under ``root`` (the seam tests use).

    The clock comes from cpufreq (``sys/devices/system/cpu/cpuN/cpufreq/scaling_cur_freq``,
    what the governor set) where the kernel has it, else from ``proc/cpuinfo``'s ``cpu MHz``
    (x86 kernels compute it from the cores' own counters); None where neither exists.
    """

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def _path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def frequencies(self) -> tuple[list[float] | None, str | None]:
        """MHz per core and the source's name, or (None, None)."""
        pattern = self._path("sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq")
        paths = sorted(glob.glob(pattern), key=lambda p: int(p.split("/cpu")[-2] or 0))
        values = [_number(read_text(p)) for p in paths]
        if values and all(v is not None for v in values):
            return [round(float(v) / 1000.0, 1) for v in values if v is not None], "cpufreq"
        info = read_text(self._path("proc/cpuinfo")) or ""
        mhz = [
            _number(line.partition(":")[2])
            for line in info.splitlines()
            if line.startswith("cpu MHz")
        ]
        if mhz and all(v is not None for v in mhz):
            return [round(float(v), 1) for v in mhz if v is not None], "cpuinfo"
        return None, None

    def throttle_events(self) -> int | None:
        """Thermal throttling events the kernel counted so far (None where it does not)."""
        pattern = self._path("sys/devices/system/cpu/cpu*/thermal_throttle/*_throttle_count")
        counts = [_number(read_text(p)) for p in glob.glob(pattern)]
        found = [int(c) for c in counts if c is not None]
        return sum(found) if found else None


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None

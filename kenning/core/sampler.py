"""The load sampler: a small process of its own that reads /proc and /sys on a fixed beat.

A run's verdict rests on what this process sees while the model runs, so it must not share
the fate of the process it watches: a framework import or a C call that holds the measured
interpreter's lock for seconds does not stop it. :class:`kenning.core.monitor.SystemMonitor`
starts it as ``python -I sampler.py`` (standard library only, so it starts in tens of
milliseconds and runs on any target that has kenning's Python) and talks to it through two
channels:

* its standard input takes one command per line: ``watch PID...`` (the measuring processes:
  their CPU, and their descendants', is the run's own, not other load), ``sample N`` (take a
  sample now and tag it ``ack: N``) and ``stop`` (a last sample, then exit). End of input
  (the owner died) ends it too;
* its standard output, a file the owner reads at its own pace, gets one JSON object per
  sample.

Each sample covers the time since the one before it: ``t`` (``CLOCK_MONOTONIC``, the same
clock in every process of the machine), CPU busy percent per core (user, nice and system
ticks of ``/proc/stat``; interrupts and steal belong to no process), ``own`` (CPU percent of
the watched processes and their descendants, this one included), ``top`` (the three other
processes that used the most CPU, with at least 5 % of a core), the owner's resident memory,
RAM in use, each core's clock in MHz with where it came from, and the kernel's count of
thermal throttling events. Clock and throttling are read through one seam, ``--clock-root``
(``/`` by default), so a test can give the sampler a machine whose clock it controls.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import select
import sys
import time
from typing import Any

#: other processes below this CPU percent (of one core) over an interval are not named
TOP_MIN_PERCENT = 5.0
TOP_COUNT = 3
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("ascii", "replace")
    except OSError:
        return None


def core_times() -> list[tuple[int, int]]:
    """(busy, total) ticks of each core from ``/proc/stat``."""
    out = []
    for line in (_read("/proc/stat") or "").splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            f = [int(v) for v in line.split()[1:9]]
            f += [0] * (8 - len(f))
            busy = f[0] + f[1] + f[2]  # user, nice, system
            out.append((busy, busy + f[3] + f[4] + f[5] + f[6] + f[7]))  # + idle..steal
    return out


def process_table() -> dict[int, tuple[str, int, int, int]]:
    """Every process: pid -> (name, parent pid, start tick, CPU ticks used so far)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        text = _read(f"/proc/{entry}/stat")
        if not text:
            continue
        close = text.rfind(")")
        name = text[text.find("(") + 1 : close]
        fields = text[close + 2 :].split()
        try:
            ppid, utime, stime, start = (int(fields[i]) for i in (1, 11, 12, 19))
        except (IndexError, ValueError):
            continue
        table[int(entry)] = (name, ppid, start, utime + stime)
    return table


def descendants(roots: set[int], table: dict[int, tuple[str, int, int, int]]) -> set[int]:
    """``roots`` and every process below them that is alive."""
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
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
    for line in (_read("/proc/meminfo") or "").splitlines():
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
        values = [_number(_read(p)) for p in paths]
        if values and all(v is not None for v in values):
            return [round(float(v) / 1000.0, 1) for v in values if v is not None], "cpufreq"
        info = _read(self._path("proc/cpuinfo")) or ""
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
        counts = [_number(_read(p)) for p in glob.glob(pattern)]
        found = [int(c) for c in counts if c is not None]
        return sum(found) if found else None


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None


class Sampler:
    """Takes the samples; :func:`main` drives it from the command channel."""

    def __init__(self, owner: int, clock: ClockSource, gpu: Any = None) -> None:
        self.owner = owner
        self.watched = {owner, os.getpid()}
        self.clock = clock
        self.gpu = gpu
        self.last_cores = core_times()
        self.last_table = process_table()
        self.last_t = time.monotonic()

    def watch(self, pids: list[int]) -> None:
        """The measuring processes from now on: the owner, this one, and ``pids``."""
        self.watched = {self.owner, os.getpid(), *pids}

    def sample(self, ack: int | None = None) -> dict[str, Any]:
        """One sample covering the time since the previous one."""
        t = time.monotonic()
        cores, table = core_times(), process_table()
        percent = []
        for (b0, t0), (b1, t1) in zip(self.last_cores, cores, strict=False):
            percent.append(round(100.0 * (b1 - b0) / (t1 - t0), 2) if t1 > t0 else 0.0)
        wall = max(t - self.last_t, 1e-9)
        mine = descendants(self.watched, table)
        own, others = 0, []
        for pid, (name, _, start, ticks) in table.items():
            before = self.last_table.get(pid)
            used = ticks - before[3] if before is not None and before[2] == start else ticks
            if pid in mine:
                own += used
            elif used > 0:
                others.append((used, name, pid))
        scale = 100.0 / (_TICK * wall)
        top = [
            [name, pid, round(used * scale, 1)]
            for used, name, pid in sorted(others, reverse=True)[:TOP_COUNT]
            if used * scale >= TOP_MIN_PERCENT
        ]
        used_ram, ram_percent = memory()
        statm = (_read(f"/proc/{self.owner}/statm") or "0 0").split()
        freq, source = self.clock.frequencies()
        out: dict[str, Any] = {
            "t": round(t, 6),
            "cores": percent,
            "own": round(own * scale, 2),
            "top": top,
            "rss": int(statm[1]) * _PAGE if len(statm) > 1 else 0,
            "ram_used": used_ram,
            "ram_percent": ram_percent,
            "freq": freq,
            "freq_source": source,
            "throttle": self.clock.throttle_events(),
        }
        if self.gpu is not None:
            out["gpu"] = self.gpu()
        if ack is not None:
            out["ack"] = ack
        self.last_cores, self.last_table, self.last_t = cores, table, t
        return out


def _gpu_reader() -> Any:
    """A function returning (percent, bytes used) of the NVIDIA GPUs, or None."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [
            pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
        ]
    except Exception:  # noqa: BLE001 - no library, driver or device: all mean absent
        return None
    if not handles:
        return None

    def read() -> list[float]:
        util = [pynvml.nvmlDeviceGetUtilizationRates(h).gpu for h in handles]
        used = [pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles]
        return [float(sum(util) / len(util)), float(sum(used))]

    return read


def _emit(sample: dict[str, Any]) -> None:
    os.write(1, (json.dumps(sample, separators=(",", ":")) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    """Sample every ``--interval`` seconds until told to stop or the owner goes away."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None, allow_abbrev=False
    )
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--owner", type=int, default=os.getppid())
    parser.add_argument("--clock-root", default="/")
    parser.add_argument("--watch", type=int, nargs="*", default=[])
    args = parser.parse_args(argv)
    sampler = Sampler(args.owner, ClockSource(args.clock_root), _gpu_reader())
    sampler.watch(args.watch)
    _emit({"start": round(sampler.last_t, 6), "interval": args.interval, "pid": os.getpid()})
    beat = sampler.last_t + args.interval
    pending = b""
    while True:
        wait = max(0.0, beat - time.monotonic())
        ready, _, _ = select.select([0], [], [], wait)
        if ready:
            chunk = os.read(0, 4096)
            if not chunk:
                return 0  # the owner closed the channel or died
            pending += chunk
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                words = line.decode("ascii", "replace").split()
                if not words:
                    continue
                if words[0] == "stop":
                    _emit(sampler.sample())
                    return 0
                if words[0] == "watch":
                    sampler.watch([int(w) for w in words[1:] if w.isdigit()])
                elif words[0] == "sample":
                    _emit(sampler.sample(int(words[1]) if len(words) > 1 else 0))
            continue
        _emit(sampler.sample())
        beat += args.interval
        now = time.monotonic()
        if beat < now:  # starved for more than a beat: start again from now, no burst
            beat = now + args.interval


if __name__ == "__main__":
    sys.exit(main())

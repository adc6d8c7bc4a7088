"""The load sampler: a small process of its own that reads /proc and /sys on a fixed beat.

A run's verdict rests on what this process sees while the model runs, so it must not share
the fate of the process it watches: a framework import or a C call that holds the measured
interpreter's lock for seconds does not stop it. :class:`kenning.core.monitor.SystemMonitor`
starts it with ``python -I``, importing only this module and :mod:`kenning.core.procfs`
(standard library only, so it starts in tens of milliseconds and runs on any target that has
kenning's Python, from a folder or a zip) and talks to it through two channels:

* its standard input takes one command per line: ``watch PID...`` (the measuring processes:
  their CPU, and their descendants', is the run's own, not other load), ``sample N`` (take a
  sample now and tag it ``ack: N``) and ``stop`` (a last sample, then exit). End of input
  (the owner died) ends it too;
* its standard output, a file the owner reads at its own pace, gets one JSON object per
  sample.

Each sample covers the time since the one before it: ``t`` (``CLOCK_MONOTONIC``, the same
clock in every process of the machine), CPU busy percent per core (user, nice and system
ticks of ``/proc/stat``; interrupts and steal belong to no process), ``own`` (CPU percent of
the watched processes and their descendants, this one included), ``wait`` (percent of a core
the other processes spent ready to run but waiting for a CPU, summed over their threads from
``/proc/PID/task/TID/schedstat``, kernel threads left out; None where the kernel keeps no
such count; what they used and what they waited is what they wanted), ``top`` (the three
other processes that wanted the most, with at least 5 % of a core: name, PID, percent used
and percent waited), the owner's resident memory, RAM in use, each core's clock in MHz with
where it came from, and the kernel's count of thermal throttling events. Clock and
throttling are read through one seam, ``--clock-root`` (``/`` by default), so a test can
give the sampler a machine whose clock it controls.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
from typing import Any

from kenning.core.procfs import (
    PAGE,
    TICK,
    ClockSource,
    Proc,
    core_times,
    descendants,
    memory,
    process_table,
    read_text,
    run_delays,
)

#: other processes that wanted less than this percent of a core (used and waited) are not named
TOP_MIN_PERCENT = 5.0
TOP_COUNT = 3


class Sampler:
    """Takes the samples; :func:`main` drives it from the command channel."""

    def __init__(self, owner: int, clock: ClockSource, gpu: Any = None) -> None:
        self.owner = owner
        self.watched = {owner, os.getpid()}
        self.clock = clock
        self.gpu = gpu
        self.last_cores = core_times()
        self.last_table = process_table()
        #: whether this kernel counts run-queue waits (``/proc/PID/schedstat``)
        self.waits_known = read_text("/proc/self/schedstat") is not None
        self.last_delays = self._delays(
            self.last_table, descendants(self.watched, self.last_table)
        )
        self.last_t = time.monotonic()

    def watch(self, pids: list[int]) -> None:
        """The measuring processes from now on: the owner, this one, and ``pids``."""
        self.watched = {self.owner, os.getpid(), *pids}

    def _delays(self, table: dict[int, Proc], mine: set[int]) -> dict[int, int]:
        """Run-queue waits of the other user processes.

        A kernel thread waits when the run keeps the cores busy (the softirqs of its own
        traffic, memory housekeeping): that is not other work wanting the CPU.
        """
        if not self.waits_known:
            return {}
        return run_delays({p for p, proc in table.items() if not proc.kernel and p not in mine})

    def sample(self, ack: int | None = None) -> dict[str, Any]:
        """One sample covering the time since the previous one."""
        t = time.monotonic()
        cores, table = core_times(), process_table()
        percent = []
        for (b0, t0), (b1, t1) in zip(self.last_cores, cores, strict=False):
            percent.append(round(100.0 * (b1 - b0) / (t1 - t0), 2) if t1 > t0 else 0.0)
        wall = max(t - self.last_t, 1e-9)
        scale = 100.0 / (TICK * wall)  # ticks -> percent of a core
        per_ns = 100.0 / (1e9 * wall)  # nanoseconds -> percent of a core
        mine = descendants(self.watched, table)
        delays = self._delays(table, mine)
        own, waited, others = 0, 0, []
        for pid, (name, _, start, ticks, _) in table.items():
            before = self.last_table.get(pid)
            same = before is not None and before.start == start
            used = ticks - before.ticks if before is not None and same else ticks
            if pid in mine:
                own += used
                continue
            last = self.last_delays.get(pid) if same else 0
            wait = max(0, delays.get(pid, 0) - last) if last is not None else 0
            waited += wait
            if used * scale + wait * per_ns >= TOP_MIN_PERCENT:
                others.append((used * scale + wait * per_ns, name, pid, used, wait))
        top = [
            [name, pid, round(used * scale, 1), round(wait * per_ns, 1)]
            for _, name, pid, used, wait in sorted(others, reverse=True)[:TOP_COUNT]
        ]
        used_ram, ram_percent = memory()
        statm = (read_text(f"/proc/{self.owner}/statm") or "0 0").split()
        freq, source = self.clock.frequencies()
        out: dict[str, Any] = {
            "t": round(t, 6),
            "cores": percent,
            "own": round(own * scale, 2),
            "wait": round(waited * per_ns, 2) if self.waits_known else None,
            "top": top,
            "rss": int(statm[1]) * PAGE if len(statm) > 1 else 0,
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
        self.last_delays = delays
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

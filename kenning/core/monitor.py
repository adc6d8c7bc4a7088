"""What the machine that runs a model does meanwhile, sampled by a process of its own.

:class:`SystemMonitor` starts :mod:`kenning.core.sampler` as a child process and reads what
it writes. The sampler reads ``/proc`` and ``/sys`` on its own beat, so a framework import or
a long C call in the measured process (which holds that interpreter's lock) cannot stall it:
a gap in its samples means the machine itself did not let it run.

The monitor keeps one series per measurement (:meth:`SystemMonitor.restart` begins a new one
on a server whose sampler outlives its sessions): timestamps in seconds since the series
began, CPU busy percent per core, the measuring processes' own CPU (the owner, its
descendants, the sampler, and any process named in ``related``, e.g. on a local board the
host at the other end of the connection), the CPU other processes waited for (ready to run,
on a run queue), the processes that wanted the most CPU besides, memory, each core's clock
with its source, the kernel's throttling count, and the *measured window*
(:meth:`begin_window`, :meth:`end_window`): the part of the series the run's verdict judges,
after warm-up with the model loaded.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import IO, Any

import kenning
from kenning.core.loadseries import add_sample, empty_series
from kenning.utils.errors import KenningError

log = logging.getLogger("kenning.monitor")

#: the sampler's module, imported by ``python -I`` from where this kenning is (a folder, or
#: the server's zip on a board)
SAMPLER = "kenning.core.sampler"
#: seconds the sampler gets to start, to answer a request for a sample, and to stop
START_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 2.0


def _sampler_program() -> list[str]:
    """The sampler as ``python -I`` arguments: import its module from this kenning's root."""
    package = kenning.__file__
    if package is None:
        raise MonitorError(f"the load sampler ({SAMPLER}) cannot be found: kenning has no file")
    root = os.path.dirname(os.path.dirname(package))  # a folder, or a zip on sys.path
    boot = (
        f"import sys; sys.path.insert(0, {root!r}); from {SAMPLER} import main; sys.exit(main())"
    )
    return ["-c", boot]


def peak_rss_bytes() -> int:
    """The largest resident set this process has had so far (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class MonitorError(KenningError):
    """The load sampler could not be started."""


class SystemMonitor:
    """Sample system load from a child process while a ``with`` block (or a server) runs.

    Parameters
    ----------
    interval : float
        Seconds between samples.
    related : sequence of int, optional
        PIDs of other processes that take part in the measurement (their CPU counts as the
        run's, in ``process_cpu_percent``, not as other load).
    clock_root : str
        Where the sampler finds ``sys/`` and ``proc/cpuinfo`` for clock and throttling
        readings (``/``; a test gives it a tree whose clock it controls).
    """

    def __init__(
        self, interval: float = 0.2, related: Sequence[int] = (), clock_root: str = "/"
    ) -> None:
        self.interval = interval
        self.related = [pid for pid in related if pid != os.getpid()]
        self.clock_root = clock_root
        self.start_time = 0.0
        self.series = empty_series(interval)
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._offset = 0
        self._partial = b""
        self._asked = 0
        self._answered = 0
        self._stopped = False
        #: the sampler's PID once it said hello
        self.sampler_pid: int | None = None

    # -- the sampler process ---------------------------------------------------------
    def start(self) -> SystemMonitor:
        """Start the sampler and a series.

        Raises
        ------
        MonitorError
            If the sampler does not start within :data:`START_TIMEOUT_S` seconds.
        """
        self._output = tempfile.TemporaryFile(prefix="kenning-load-")
        self._errors = tempfile.TemporaryFile(prefix="kenning-load-err-")
        argv = [
            sys.executable,
            "-I",
            *_sampler_program(),
            "--interval",
            str(self.interval),
            "--owner",
            str(os.getpid()),
            "--clock-root",
            self.clock_root,
            "--watch",
            *map(str, self.related),
        ]
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=self._output,
            stderr=self._errors,
            close_fds=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._read_lines():
            if self._process.poll() is not None or time.monotonic() > deadline:
                why = self._error_text() or f"no word within {START_TIMEOUT_S:g} s"
                self.stop()
                raise MonitorError(f"the load sampler ({SAMPLER}) did not start: {why}")
            time.sleep(0.005)
        self.restart()
        return self

    def _send(self, line: str) -> bool:
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            return False
        try:
            process.stdin.write(line.encode() + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def _error_text(self) -> str:
        if self._errors is None:
            return ""
        self._errors.seek(0)
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def stop(self) -> dict[str, Any]:
        """Take a last sample, stop the sampler and return the series."""
        if self._process is not None and not self._stopped:
            self._stopped = True
            if self._send("stop"):
                try:
                    self._process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log.warning("the load sampler did not stop within %g s", STOP_TIMEOUT_S)
            self._kill()
            self._read_lines()
            if self._process.stdin is not None:
                self._process.stdin.close()
            for handle in (self._output, self._errors):
                if handle is not None:
                    handle.close()
            self._output = self._errors = None
        return self.series

    def __enter__(self) -> SystemMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading ---------------------------------------------------------------------
    def _read_lines(self) -> bool:
        """Take in what the sampler wrote since the last read; True once it said hello."""
        if self._output is None:
            return False
        data = os.pread(self._output.fileno(), 1 << 20, self._offset)
        while data:
            self._offset += len(data)
            self._partial += data
            data = os.pread(self._output.fileno(), 1 << 20, self._offset)
        *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            record = json.loads(line)
            if "start" in record:
                self.sampler_pid = int(record["pid"])
                continue
            self._answered = max(self._answered, int(record.get("ack", 0)))
            add_sample(self.series, record, self.start_time)
        if self._process is not None and self._process.poll() not in (None, 0):
            if not self._stopped and self.series["monitor_error"] is None:
                self.series["monitor_error"] = (
                    f"the load sampler exited with code {self._process.returncode}"
                    f" ({self._error_text() or 'no message'})"
                )
        return self.sampler_pid is not None

    # -- series, window ----------------------------------------------------------------
    def watch(self, related: Sequence[int]) -> None:
        """Count ``related`` (and their descendants) as the measurement's own from now on."""
        self.related = [pid for pid in related if pid != os.getpid()]
        self._send("watch " + " ".join(map(str, self.related)))

    def restart(self, related: Sequence[int] | None = None) -> None:
        """Begin a new series now (a server: each host's session), watching ``related``."""
        if related is not None:
            self.watch(related)
        self._read_lines()
        self.start_time = time.monotonic()
        self.series = empty_series(self.interval)

    def now(self) -> float:
        """Seconds since the series began (its timestamps' clock)."""
        return round(time.monotonic() - self.start_time, 6)

    def sample_now(self, timeout: float = ANSWER_TIMEOUT_S) -> bool:
        """Ask the sampler for a sample now and wait for it (False: it did not answer)."""
        self._asked += 1
        if not self._send(f"sample {self._asked}"):
            return False
        deadline = time.monotonic() + timeout
        while self._answered < self._asked:
            if time.monotonic() > deadline:
                log.warning("the load sampler did not answer within %g s", timeout)
                return False
            time.sleep(0.001)
            self._read_lines()
        return True

    def begin_window(self) -> float:
        """Mark the start of the measured phase; returns it on the series' clock."""
        self.series["window_start_s"] = self.now()
        self.series["window_end_s"] = None
        return float(self.series["window_start_s"])

    def extend_window(self) -> None:
        """Move the window's end to now (a run in progress: what it measured so far)."""
        if self.series["window_start_s"] is not None:
            self.series["window_end_s"] = self.now()

    def end_window(self) -> None:
        """Mark the end of the measured phase and take a sample that covers it."""
        self.extend_window()
        self.sample_now()

    def snapshot(self) -> dict[str, Any]:
        """A copy of the series so far, safe to serialise."""
        self._read_lines()
        return {k: list(v) if isinstance(v, list) else v for k, v in self.series.items()}

    def samples_since(self, start: int) -> tuple[dict[str, Any] | None, int]:
        """The samples from index ``start`` on (``None`` when there are none) and the new end."""
        series = self.snapshot()
        end = len(series["timestamps"])
        if end <= start:
            return None, start
        return {k: v[start:end] if isinstance(v, list) else v for k, v in series.items()}, end

"""Run steps as subprocesses of this Python environment."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, ClassVar, TextIO

import kenning
from kenning.executors.base import (
    ExecutionRecord,
    Executor,
    OutputSink,
    docker_arch,
    hostname,
)
from kenning.executors.errors import (
    CommandError,
    ExecutionCancelledError,
    ExecutionTimeoutError,
    ExecutorError,
)
from kenning.utils.provenance import git_commit

#: seconds a stopped command gets to exit before it is killed
STOP_GRACE_S = 5.0
#: seconds between questions to a running command's ``cancel``
CANCEL_POLL_S = 0.1


class LocalExecutor(Executor):
    """Run commands here, with this interpreter for ``python``; the image is only recorded.

    Parameters
    ----------
    cancel : callable, optional
        Asked every :data:`CANCEL_POLL_S` while a command runs: a reason (str) stops the
        command as Ctrl-C would (it saves what it has) and raises
        :class:`~kenning.executors.errors.ExecutionCancelledError`; None lets it go on.
    """

    name: ClassVar[str] = "local"

    def __init__(self, cancel: Callable[[], str | None] | None = None) -> None:
        self.cancel = cancel

    def run(
        self,
        command: Sequence[str],
        *,
        image: str | None = None,
        workdir: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> ExecutionRecord:
        argv = [
            sys.executable if i == 0 and arg == "python" else arg for i, arg in enumerate(command)
        ]
        cwd = Path(workdir or Path.cwd()).resolve()
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        out = OutputSink(stdout or sys.stdout)
        err = OutputSink(stderr or sys.stderr)
        started_at = datetime.now(UTC)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise ExecutorError(f"cannot start `{' '.join(argv)}`: {exc}") from exc
        assert proc.stdout is not None and proc.stderr is not None
        readers = [_pump(proc.stdout, out), _pump(proc.stderr, err)]
        try:
            code = self._wait(proc, timeout)
        except _CalledOffError as called_off:
            _stop(proc)
            _join(readers)
            raise ExecutionCancelledError(
                argv, called_off.reason, err.lines(), "run locally"
            ) from None
        except subprocess.TimeoutExpired as exc:
            _stop(proc)
            _join(readers)
            raise ExecutionTimeoutError(argv, timeout or 0.0, err.lines(), "run locally") from exc
        except BaseException:
            _stop(proc)  # Ctrl-C or an error here: never leave the child behind
            raise
        _join(readers)
        record = ExecutionRecord(
            executor=self.name,
            environment=image,
            kenning_version=kenning.__version__,
            git_commit=git_commit(),
            command=list(argv),
            workdir=str(cwd),
            host=hostname(),
            platform=f"{sys.platform}/{docker_arch(platform.machine())}",
            exit_code=code,
            started_at=started_at,
            duration_s=time.monotonic() - start,
        )
        if check and code != 0:
            raise CommandError(argv, code, err.lines()).with_record(record)
        return record

    def _wait(self, proc: subprocess.Popen[bytes], timeout: float | None) -> int:
        """The exit status; TimeoutExpired after ``timeout``, _CalledOffError when called off."""
        if self.cancel is None:
            return proc.wait(timeout=timeout)
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            step = CANCEL_POLL_S if end is None else min(CANCEL_POLL_S, end - time.monotonic())
            try:
                return proc.wait(timeout=max(step, 0.0))
            except subprocess.TimeoutExpired:
                if end is not None and time.monotonic() >= end:
                    raise
            reason = self.cancel()
            if reason:
                raise _CalledOffError(reason)


class _CalledOffError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pump(stream: IO[bytes], sink: OutputSink) -> threading.Thread:
    def copy() -> None:
        with stream:
            while chunk := stream.read1(65536):  # type: ignore[attr-defined]
                sink.write(chunk)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=STOP_GRACE_S)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Interrupt (as Ctrl-C would: a scenario then saves what it has), terminate, kill."""
    for send in (lambda: proc.send_signal(signal.SIGINT), proc.terminate, proc.kill):
        if proc.poll() is not None:
            return
        send()
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            continue

"""The local board: an ``inference_server`` started on this machine, on loopback.

It is the default board: everything the demo benchmarks goes through the real
protocol, even with no hardware at hand.
"""

from __future__ import annotations

import logging
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kenning.boards.base import Endpoint
from kenning.boards.protocolconfig import SerialProtocolConfig
from kenning.executors.base import docker_arch
from kenning.executors.boarderrors import BoardError
from kenning.runtimeprotocols.handshake import run_secret

__all__ = ["BoardError", "LocalBoard", "RunningServer", "local_server"]

log = logging.getLogger("kenning.localboard")

_LISTENING = re.compile(r"listening on (?:.*?:(\d+)$)?")


@dataclass
class RunningServer:
    """A started server: where to reach it, where its log goes, the run's secret file."""

    host: str
    port: int
    log_path: Path
    process: subprocess.Popen[str]
    secret_file: Path | None = None


@contextmanager
def local_server(
    runtime: str,
    save_model_path: Path,
    log_path: Path,
    runtime_args: Sequence[str] = (),
    startup_timeout: float = 60.0,
    serial: SerialProtocolConfig | None = None,
) -> Iterator[RunningServer]:
    """Start ``inference_server`` over TCP on an OS-chosen loopback port, or on a serial line.

    Parameters
    ----------
    runtime : str
        Runtime short name or dotted path.
    save_model_path : Path
        Where the server stores the model it receives.
    log_path : Path
        The server's combined output.
    runtime_args : sequence of str
        Extra runtime flags.
    startup_timeout : float
        Seconds to wait for the server to listen.
    serial : SerialProtocolConfig, optional
        Serve on the line's ``board_device`` instead (the host talks on its ``device``).

    The server gets a fresh secret on its stdin (never on its command line); the yielded
    :attr:`RunningServer.secret_file` holds it for the host (mode 0600, removed at the end).

    Raises
    ------
    BoardError
        If the server exits or does not listen in time.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with run_secret(log_path.parent) as (secret, secret_file):
        if serial is not None:
            if serial.board_device is None:
                raise BoardError(
                    "local",
                    "starting the server",
                    "a serial board needs "
                    "`protocol.board_device` (its end of the line) in the inventory",
                )
            where = [
                "serial",
                runtime,
                "--port",
                serial.board_device,
                "--baudrate",
                str(serial.baud),
            ]
        else:
            where = ["network", runtime, "--host", "127.0.0.1", "--port", "0"]
        with _started(
            [*where, "--save-model-path", str(save_model_path), *runtime_args],
            log_path,
            startup_timeout,
            secret,
        ) as (proc, port):
            yield RunningServer("127.0.0.1", port, log_path, proc, secret_file)


@contextmanager
def _started(
    args: Sequence[str], log_path: Path, startup_timeout: float, secret: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    command = [
        sys.executable,
        "-m",
        "kenning.scenarios.inference_server",
        *args,
        "--secret-file",
        "-",
        "--verbosity",
        "WARNING",
    ]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(secret + "\n")
        proc.stdin.close()
    except OSError:  # it died at once: its log says why
        pass
    ports: queue.Queue[int | None] = queue.Queue()
    # the server's output is drained into its log for as long as it runs
    pump = threading.Thread(target=_drain, args=(proc, log_path, ports), daemon=True)
    pump.start()
    try:
        yield proc, _wait_for_port(proc, ports, log_path, startup_timeout)
    finally:
        _stop(proc)
        pump.join(timeout=5)  # the pipe ends with the process: the pump sees its end
        if proc.stdout is not None and not pump.is_alive():
            proc.stdout.close()


def _drain(proc: subprocess.Popen[str], log_path: Path, ports: queue.Queue[int | None]) -> None:
    """Copy the server's output to its log; report the port it listens on (None: it ended)."""
    assert proc.stdout is not None
    with log_path.open("w") as log_file:
        for line in proc.stdout:
            log_file.write(line)
            log_file.flush()
            match = _LISTENING.search(line.strip())
            if match:  # a serial line has no port: 0
                ports.put(int(match.group(1) or 0))
    ports.put(None)


def _wait_for_port(
    proc: subprocess.Popen[str], ports: queue.Queue[int | None], log_path: Path, timeout: float
) -> int:
    try:
        port = ports.get(timeout=timeout)
    except queue.Empty:
        port, why = None, f"it did not say where it listens within {timeout:g} s"
    else:
        why = "it exited before listening"
    if port is not None:
        return port
    proc.kill()
    proc.wait()
    tail = log_path.read_text(errors="replace").splitlines() if log_path.is_file() else []
    raise BoardError("local", "starting the server", why, tail)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class LocalBoard:
    """The machine kenning runs on, as a board: the default of ``invoke bench`` and the demo.

    Parameters
    ----------
    name : str
        The board's name in results and errors.
    runtime_args : mapping of str to sequence of str
        Extra server flags, per runtime.
    serial : SerialProtocolConfig, optional
        Serve over this serial line instead of loopback TCP.
    """

    def __init__(
        self,
        name: str = "local",
        runtime_args: Mapping[str, Sequence[str]] | None = None,
        serial: SerialProtocolConfig | None = None,
    ) -> None:
        import platform

        self.name = name
        self.serial = serial
        self.arch = docker_arch(platform.machine())
        self.runtime_args = {k: list(v) for k, v in (runtime_args or {}).items()}
        self.on_this_machine: str | None = "local"
        #: runtimes it offers (None: whatever is installed here)
        self.runtimes: list[str] | None = None

    @contextmanager
    def serve(
        self,
        runtime: str,
        suffix: str,
        folder: Path,
        args: Sequence[str] = (),
        *,
        artifact: Path | None = None,
    ) -> Iterator[Endpoint]:
        """Start ``inference_server`` here; its log is ``folder/server.log``.

        ``artifact`` is not used: the model is sent through the protocol.

        Raises
        ------
        BoardError
            If the server does not start.
        """
        with local_server(
            runtime,
            folder / f"model.{suffix}",
            folder / "server.log",
            [*self.runtime_args.get(runtime, []), *args],
            serial=self.serial,
        ) as server:
            if self.serial is None:
                yield Endpoint(server.host, server.port, server.secret_file)
            else:
                yield Endpoint("", 0, server.secret_file, self.serial.device, self.serial.baud)

    def preflight(self) -> None:
        """Nothing to check: the board is this machine."""

    def describe(self) -> dict[str, str]:
        """The board as results record it."""
        import socket

        described = {
            "name": self.name,
            "kind": "local",
            "host": socket.gethostname(),
            "arch": self.arch,
        }
        if self.serial is not None:
            described["protocol"] = f"serial {self.serial.device} at {self.serial.baud} baud"
        return described

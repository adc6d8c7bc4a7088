"""A real labgrid farm on loopback: a coordinator, exporters, places made from an inventory.

The coordinator listens on ``127.0.0.1:0`` and prints the port the OS chose; exporters
publish the ``NetworkService`` resources of a test inventory (pointing at loopback ports
nobody listens on: reservations and locks do not connect to the boards). Every process a
fixture starts is stopped at teardown.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from capabilities import missing
from conftest import ROOT

INVENTORY = """\
default: local
boards:
  local: {deploy: local, runtimes: [tflite]}
  arm-1: {host: 127.0.0.1, port: 2201, user: root, arch: arm64, runtimes: [tflite, tvm],
          tags: [cortex-a72]}
  amd-1: {host: 127.0.0.1, port: 2202, user: root, arch: amd64, runtimes: [onnxruntime]}
  uart-1:
    host: 127.0.0.1
    port: 2203
    user: root
    arch: arm64
    runtimes: [tflite]
    protocol: {kind: serial, device: /dev/ttyKENNINGTEST0, baud: 57600}
  uart-2:
    host: 127.0.0.1
    port: 2204
    user: root
    arch: arm64
    runtimes: [tflite]
    protocol: {kind: serial, device: "rfc2217://127.0.0.1:4001", baud: 115200}
"""


def labgrid_tool(name: str) -> str:
    """The path of a labgrid command (the venv's first), or a skip naming the extra."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        missing("labgrid", f"{name} not found (pip install 'kenning[farm]')")
    return found


def _wait_for(path: Path, pattern: str, proc: subprocess.Popen[bytes], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        found = re.search(pattern, text)
        if found:
            return found.group(0)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} from {proc.args} within {seconds} s:\n{text[-2000:]}")


class Processes:
    """Processes started by a test; :meth:`stop_all` ends each (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    yield started
    started.stop_all()


@pytest.fixture
def coordinator(tmp_path: Path, processes: Processes) -> str:
    """``127.0.0.1:PORT`` of a fresh labgrid coordinator (its state files in tmp_path)."""
    folder = tmp_path / "coordinator"
    folder.mkdir()
    log = folder / "coordinator.log"
    proc = processes.start([labgrid_tool("labgrid-coordinator"), "-l", "127.0.0.1:0"], log, folder)
    line = _wait_for(log, r"listening on 127\.0\.0\.1:\d+", proc, 20)
    return line.removeprefix("listening on ")


@dataclass
class Farm:
    """A coordinator with an exporter of the test inventory's boards and their places."""

    address: str
    inventory: Path
    folder: Path


StartExporter = Callable[[str, Path], subprocess.Popen[bytes]]


@pytest.fixture
def start_exporter(coordinator: str, processes: Processes, tmp_path: Path) -> StartExporter:
    """Start ``labgrid-exporter NAME CONFIG`` and wait until the coordinator lists it."""

    def start(name: str, config: Path) -> subprocess.Popen[bytes]:
        log = tmp_path / f"exporter-{name}.log"
        args = [labgrid_tool("labgrid-exporter"), "-c", coordinator, "-n", name,
                "--hostname", "127.0.0.1", str(config)]  # fmt: skip
        proc = processes.start(args, log, tmp_path)
        _wait_for(log, "Exporter ready", proc, 20)
        return proc

    return start


@pytest.fixture
def farm(coordinator: str, start_exporter: StartExporter, tmp_path: Path) -> Farm:
    """The test inventory exported (``invoke farm.export``'s functions) and its places created."""
    from kenning.boards import load_inventory
    from kenning.farm import FarmSession, apply_places, export_inventory, write_export

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    export = export_inventory(load_inventory(inventory), ["arm-1", "amd-1"], exporter="lab")
    exporter_file, _ = write_export(export, tmp_path / "farm")
    start_exporter("lab", exporter_file)
    with FarmSession(coordinator, user="setup") as session:
        deadline = time.monotonic() + 10
        while len(session.resources()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        apply_places(session, export.places)
    return Farm(coordinator, inventory, tmp_path / "farm")

"""A real microcontroller's path: flashed by its owner, wired through ser2net, held in a farm.

The lab: the digits CNN compiled with ``onnx-c`` for mps2-an386, the firmware provisioned with
the board's secret by ``python -m kenning.scenarios.provision_firmware``, "flashed" (run under
QEMU, which stands in for the board; kenning does not start it), its UART served on TCP by
ser2net and exported by a real labgrid exporter. The inventory names the board
``deploy: mcu, emulator: none`` with its ``secret_file:`` and the ser2net line; ``invoke bench
--farm COORDINATOR --board deploy=mcu`` holds its place, builds the same firmware for the run
and benches the board through the protocol: the run is judged, its outputs agree with ONNX
Runtime, and the results say which place, exporter and board it was.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from conftest_farm import (  # noqa: F401 - fixtures
    StartExporter,
    coordinator,
    processes,
    start_exporter,
)
from conftest_serial import ser2net
from conftest_tasks import invoke
from mcuboards import digits_onnx_file, need_toolchain

from kenning.boards.check import check_boards
from kenning.boards.inventoryfile import load_inventory
from kenning.boards.qemu import qemu_board
from kenning.compilers.onnxc import ONNXToCCompiler
from kenning.core.iospec import IOSpec
from kenning.core.results import load_results
from kenning.runtimeprotocols.handshake import read_secret

pytestmark = [pytest.mark.slow, pytest.mark.farm]
MACHINE = "mps2-an386"


def _flash(model: Path, lab: Path) -> tuple[Path, Path]:
    """The lab's board firmware, provisioned with a new secret: (firmware, secret file)."""
    compiled = lab / "digits.onnx-c"
    ONNXToCCompiler(None, compiled, target=MACHINE).compile(model, IOSpec.load(model))
    secret, server = lab / "board.secret", lab / "server.elf"
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.provision_firmware", str(compiled),
         str(secret), str(server)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote a fresh secret" in done.stdout and (secret.stat().st_mode & 0o777) == 0o600
    assert read_secret(secret) in server.read_bytes()  # in the copy, never in the build
    assert read_secret(secret) not in (compiled / "firmware.elf").read_bytes()
    return server, secret


def test_a_flashed_board_behind_ser2net_is_benched_from_the_farm(
    torch_digits_model: Path,
    coordinator: str,
    start_exporter: StartExporter,
    tmp_path: Path,
) -> None:
    from kenning.farm import FarmSession, apply_places, export_inventory, write_export

    need_toolchain()
    model = digits_onnx_file(torch_digits_model, tmp_path / "digits.onnx")
    server, secret = _flash(model, tmp_path / "lab")
    with qemu_board(server, MACHINE, read_secret(secret), tmp_path / "lab") as board:
        with ser2net(board.line, tmp_path) as url:
            inventory = tmp_path / "inventory.yaml"
            entry = {"deploy": "mcu", "machine": MACHINE, "emulator": "none",
                     "secret_file": str(secret),
                     "protocol": {"kind": "serial", "device": url, "baud": 115200}}  # fmt: skip
            inventory.write_text(yaml.safe_dump({
                "default": "local",
                "boards": {"local": {"deploy": "local", "runtimes": ["onnxruntime"]},
                           "mcu-1": entry}}))  # fmt: skip
            loaded = load_inventory(inventory)
            [status] = check_boards(loaded, ["mcu-1"])  # the handshake with its secret
            assert status.reachable and status.error is None, status.error

            export = export_inventory(loaded, ["mcu-1"], exporter="lab")
            groups = export.groups["mcu-1"]
            assert list(groups) == ["NetworkSerialPort"]  # a microcontroller has no SSH
            exporter_file, _ = write_export(export, tmp_path / "farm")
            start_exporter("lab", exporter_file)
            with FarmSession(coordinator, user="setup") as session:
                deadline = time.monotonic() + 10
                while not session.resources() and time.monotonic() < deadline:
                    time.sleep(0.05)
                apply_places(session, export.places)
            scenario = tmp_path / "s.yaml"
            scenario.write_text(
                f"name: mcu-farm\nmodel: {{file: {model}}}\ndataset: {{class: digits}}\n"
                "deployments:\n  fw: {chain: [onnx-c], runtime: onnx-c, board-kind: mcu}\n"
                "measure: {min-samples: 100, warmup: 2, repeats: 1}\n"
            )
            build = tmp_path / "build"
            done = invoke("bench", "--scenario", str(scenario), "--farm", coordinator,
                          "--board", "deploy=mcu", "--executor", "local", "--build",
                          str(build), inventory=inventory)  # fmt: skip
            assert board.alive()  # kenning reached the board, it did not start or stop it
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    res = load_results(build / "results" / "mcu-1" / "fw.json")
    assert res.status == "complete" and res.verdict is not None
    assert res.verdict.state == "VALID", res.verdict.line()
    assert res.agreement is not None and res.agreement.agrees, res.agreement
    server_info = res.provenance["server"]
    assert (server_info["kind"], server_info["machine"], server_info["emulator"]) == (
        "mcu", MACHINE, "none")  # fmt: skip
    assert (server_info["farm"]["place"], server_info["farm"]["exporter"]) == ("mcu-1", "lab")
    bench = res.provenance["steps"]["benchmark"]["parameters"]
    assert (bench["protocol"], bench["port"]) == ("serial", url)  # through ser2net
    target = (res.measurements or {}).get("target") or {}
    assert target.get("firmware_model") is True and target.get("flash_bytes"), target


def test_a_board_whose_secret_differs_is_reported_unreachable(
    torch_digits_model: Path, tmp_path: Path
) -> None:
    need_toolchain()
    model = digits_onnx_file(torch_digits_model, tmp_path / "digits.onnx")
    server, secret = _flash(model, tmp_path / "lab")
    other = tmp_path / "other.secret"
    other.write_text("f" * 64 + "\n")
    other.chmod(0o600)
    with qemu_board(server, MACHINE, read_secret(secret), tmp_path / "lab") as board:
        inventory = tmp_path / "inventory.yaml"
        entry = {"deploy": "mcu", "machine": MACHINE, "emulator": "none",
                 "secret_file": str(other), "protocol": {"kind": "serial",
                                                         "device": board.line}}  # fmt: skip
        inventory.write_text(yaml.safe_dump({"default": "b", "boards": {"b": entry}}))
        [status] = check_boards(load_inventory(inventory), ["b"], timeout=5)
    assert not status.reachable or status.error is not None
    assert status.error is not None and "authentication failed" in status.error, status.error


def test_provisioning_refuses_to_overwrite_its_inputs(tmp_path: Path) -> None:
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.provision_firmware", str(elf),
         str(tmp_path / "s"), str(elf)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0 and "error:" in done.stderr
    assert "would replace an input" in done.stderr
    assert elf.read_bytes() == b"\x7fELF" and not (tmp_path / "s").exists()

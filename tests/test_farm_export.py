"""inventory.yaml -> labgrid exporter configuration and places, read by a real exporter."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_farm are redefined as arguments

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from conftest_farm import (  # noqa: F401 - fixtures
    INVENTORY,
    StartExporter,
    coordinator,
    processes,
    start_exporter,
)
from conftest_tasks import invoke

from kenning.boards import load_inventory
from kenning.farm import (
    FarmExportError,
    FarmSession,
    apply_places,
    export_inventory,
    load_places,
    write_export,
)

pytestmark = pytest.mark.farm


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return path


def test_every_board_but_local_becomes_a_group_and_a_place(inventory: Path, tmp_path: Path):
    export = export_inventory(load_inventory(inventory))
    assert export.skipped.keys() == {"local"}
    exporter_file, places_file = write_export(export, tmp_path / "farm")
    groups = yaml.safe_load(exporter_file.read_text())
    assert groups["arm-1"] == {
        "NetworkService": {"address": "127.0.0.1", "username": "root", "port": 2201}
    }
    assert groups["uart-1"]["RawSerialPort"] == {"port": "/dev/ttyKENNINGTEST0", "speed": 57600}
    assert groups["uart-2"]["NetworkSerialPort"] == {
        "host": "127.0.0.1", "port": 4001, "speed": 115200, "protocol": "rfc2217"
    }  # fmt: skip
    # labgrid renders the file with Jinja2, whose line statements start with '#'
    assert all(not line.startswith("#") or line.startswith("##")
               for line in exporter_file.read_text().splitlines())  # fmt: skip
    places = {p.name: p for p in load_places(places_file)}
    assert places == {p.name: p for p in export.places}
    assert places["arm-1"].matches == ("*/arm-1/*",)
    assert places["uart-1"].tags == {
        "kenning": "yes", "arch": "arm64", "deploy": "script", "protocol": "serial",
        "runtime_tflite": "yes",
    }  # fmt: skip
    assert places["arm-1"].tags["tag_cortex_a72"] == "yes"


def test_a_real_microcontroller_is_its_uart_and_an_emulated_one_stays_here(tmp_path: Path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY + (
        "  m4-1: {deploy: mcu, machine: mps2-an386, emulator: none, secret_file: /k/m4-1,\n"
        "         protocol: {kind: serial, device: /dev/ttyACM0}}\n"
        "  qemu-m4: {deploy: mcu, machine: mps2-an386}\n"
    ))  # fmt: skip
    export = export_inventory(load_inventory(path), ["m4-1", "qemu-m4"])
    assert export.groups == {"m4-1": {"RawSerialPort": {"port": "/dev/ttyACM0", "speed": 115200}}}
    assert "kenning starts it" in export.skipped["qemu-m4"]
    [place] = export.places
    assert place.tags == {
        "kenning": "yes", "arch": "mcu_mps2_an386", "deploy": "mcu", "protocol": "serial",
        "machine": "mps2_an386", "runtime_onnx_c": "yes",
    }  # fmt: skip


def test_unknown_or_only_local_boards_are_refused(inventory: Path) -> None:
    with pytest.raises(FarmExportError, match="not in the inventory: nope"):
        export_inventory(load_inventory(inventory), ["nope"])
    with pytest.raises(FarmExportError, match=r"no board to export .*local: deploy: local"):
        export_inventory(load_inventory(inventory), ["local"])


def test_a_real_exporter_publishes_the_written_config_and_places_apply_once(
    inventory: Path, tmp_path: Path, coordinator: str, start_exporter: StartExporter
) -> None:
    export = export_inventory(load_inventory(inventory), exporter="lab")
    exporter_file, _ = write_export(export, tmp_path / "farm")
    start_exporter("lab", exporter_file)
    with FarmSession(coordinator, user="admin") as session:
        deadline = time.monotonic() + 10
        while len(session.resources()) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        resources = session.resources()
        assert resources["lab/arm-1/NetworkService/NetworkService"] is True
        # the exporter serves a RawSerialPort with ser2net: clients see a NetworkSerialPort
        assert "lab/uart-1/NetworkSerialPort/RawSerialPort" in resources
        assert resources["lab/uart-2/NetworkSerialPort/NetworkSerialPort"] is True
        changes = apply_places(session, export.places)
        assert "arm-1: created" in changes and "arm-1: match lab/arm-1/*" in changes
        assert apply_places(session, export.places) == []
        session.set_tags("arm-1", {"arch": "amd64", "owner": "lab_team"})
        assert apply_places(session, export.places) == ["arm-1: tags arch=arm64"]
        arm = next(p for p in session.places() if p.name == "arm-1")
        assert arm.tags["owner"] == "lab_team"  # set by hand: kept


def test_invoke_farm_export_writes_and_applies(
    inventory: Path, tmp_path: Path, coordinator: str
) -> None:
    out = tmp_path / "out"
    done = invoke("farm.export", "--out", str(out), "--board", "arm-1", "--board", "amd-1",
                  "--coordinator", coordinator, inventory=inventory, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"== exporter: {out / 'exporter.yaml'}" in done.stdout
    assert "arm-1: created" in done.stdout
    assert yaml.safe_load((out / "exporter.yaml").read_text()).keys() == {"arm-1", "amd-1"}
    with FarmSession(coordinator) as session:
        assert [p.name for p in session.places()] == ["amd-1", "arm-1"]
    listing = invoke("boards", "--farm", coordinator, timeout=60)
    assert listing.returncode == 0 and "0 reservation(s) waiting" in listing.stdout
    refused = invoke("farm.export", "--out", str(out), "--board", "nope", inventory=inventory)
    assert refused.returncode == 1 and "error: not in the inventory: nope" in refused.stderr

"""Microcontroller boards in the toolchain: the inventory's `deploy: mcu`, and a scenario benched
on two emulated boards (firmware built by onnx-c for each board's machine, started under QEMU)."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest
from mcuboards import need_toolchain

from kenning.boards.inventory import InventoryError
from kenning.boards.inventoryfile import load_inventory
from kenning.boards.mcu import EMULATED_CLOCK, EMULATOR, McuBoard
from kenning.core.results import load_results
from kenning.executors.boarderrors import BoardError
from kenning.executors.local import LocalExecutor
from kenning.toolchain.run.benchtask import choose_deployments, load_job
from kenning.toolchain.run.boardchoice import resolve_boards
from kenning.toolchain.run.runner import run_scenario
from kenning.toolchain.run.training import with_epochs

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "digits-mcu.yaml"
#: few samples, one run each: the emulated boards answer one sample at a time over a UART
QUICK = {"min_samples": 40, "warmup": 2, "repeats": 1, "min_duration_s": 0.0}


def inventory(tmp_path: Path, boards: str) -> Path:
    path = tmp_path / "inventory.yaml"
    local = "local: {deploy: local, runtimes: [tflite]}\n"  # line 2; the entry is line 3
    path.write_text("boards:\n" + textwrap.indent(local + textwrap.dedent(boards), "  "))
    return path


def test_shipped_inventory_has_two_emulated_boards() -> None:
    boards = load_inventory(ROOT / "inventory.yaml").boards
    m4, m55 = boards["qemu-m4"], boards["qemu-m55"]
    assert (m4.machine, m4.cpu, m4.emulator, m4.runtimes) == (
        "mps2-an386",
        "cortex-m4",
        "qemu",
        ["onnx-c"],
    )
    assert (m55.cpu, m55.flash_bytes, m55.ram_bytes) == ("cortex-m55", 524288, 524288)
    assert (m4.build_arch, m55.build_arch) == ("mcu-mps2-an386", "mcu-mps3-an547")
    assert boards["local"].build_arch in ("amd64", "arm64")  # Linux boards as they were


def test_inventory_defaults_and_overrides(tmp_path: Path) -> None:
    path = inventory(tmp_path, "m4: {deploy: mcu, machine: mps2-an386, ram_bytes: 65536}\n")
    board = load_inventory(path).board("m4")
    assert (board.flash_bytes, board.ram_bytes, board.arch) == (4194304, 65536, None)
    described = McuBoard(board).describe()
    assert described["kind"] == "mcu" and described["machine"] == "mps2-an386"
    assert described["cpu"] == "cortex-m4"
    assert (described["emulator"], described["clock"]) == (EMULATOR, EMULATED_CLOCK)


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ("{deploy: mcu}", "machine", "is required for a `deploy: mcu` board: one of mps2-an386"),
        ("{deploy: mcu, machine: pico}", "machine", "'pico' is not a board the firmware"),
        ("{deploy: mcu, machine: mps2-an386, arch: arm64}", "arch", "remove `arch:`"),
        ("{deploy: mcu, machine: mps2-an386, runtimes: [tflite]}", "runtimes", "only onnx-c"),
        ("{deploy: mcu, machine: mps2-an386, host: a}", "host", "has no host"),
        ("{deploy: mcu, machine: mps2-an386, emulator: renode}", "emulator", "qemu, none"),
    ],
)
def test_inventory_refuses_bad_mcu_entries(
    tmp_path: Path, entry: str, key: str, message: str
) -> None:
    path = inventory(tmp_path, f"bad: {entry}\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    text = str(caught.value).replace("valid runtimes: ", "only ")
    assert f"inventory.yaml:3: board 'bad', key '{key}'" in text
    assert message in text


def test_inventory_refuses_mcu_keys_on_linux_boards(tmp_path: Path) -> None:
    path = inventory(tmp_path, "l: {deploy: local, runtimes: [tflite], machine: mps2-an386}\n")
    with pytest.raises(InventoryError, match="machine: only for `deploy: mcu` boards"):
        load_inventory(path)


def test_a_real_board_needs_its_line_and_its_secret(tmp_path: Path) -> None:
    path = inventory(tmp_path, "m: {deploy: mcu, machine: mps2-an386, emulator: none}\n")
    with pytest.raises(InventoryError, match=r"key 'secret_file': .*is required for a real board"):
        load_inventory(path)
    path = inventory(tmp_path, "m: {deploy: mcu, machine: mps2-an386, secret_file: s}\n")
    with pytest.raises(InventoryError, match=r"key 'secret_file': .*an emulated board gets"):
        load_inventory(path)
    secret = tmp_path / "board.secret"
    real = f"deploy: mcu, machine: mps2-an386, emulator: none, secret_file: {secret}"
    path = inventory(tmp_path, f"m: {{{real}}}\n")
    board = McuBoard(load_inventory(path).board("m"))
    assert board.on_this_machine is None  # nothing of it runs here
    with pytest.raises(BoardError, match="reached on a serial line"):
        board.preflight()
    line = "protocol: {kind: serial, device: /dev/ttyACM0}"
    path = inventory(tmp_path, f"m: {{{real}, {line}}}\n")
    board = McuBoard(load_inventory(path).board("m"))
    with pytest.raises(BoardError, match=f"secret_file {secret} is missing"):
        board.preflight()
    assert board.describe()["emulator"] == "none"


def test_deployments_go_to_boards_of_their_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KENNING_INVENTORY", str(ROOT / "inventory.yaml"))
    job = load_job(SCENARIO)
    local, m4 = resolve_boards(["local", "qemu-m4"])
    assert isinstance(m4, McuBoard)
    assert choose_deployments(job, local, []) == ["torch-onnx-ort", "mlp-onnx-ort"]
    assert choose_deployments(job, m4, []) == ["torch-onnx-c", "mlp-onnx-c"]
    assert choose_deployments(job, m4, ["torch-onnx-ort", "torch-onnx-c"]) == ["torch-onnx-c"]
    compile_step = job.plan("torch-onnx-c", Path("build"), m4.arch).steps[-1]
    assert compile_step.image == "compile-mcu"
    assert "--target" in compile_step.template
    assert compile_step.template[compile_step.template.index("--target") + 1] == "mps2-an386"


@pytest.mark.slow
def test_scenario_benches_the_firmware_on_two_emulated_boards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_toolchain()
    monkeypatch.setenv("KENNING_INVENTORY", str(ROOT / "inventory.yaml"))
    job = with_epochs(load_job(SCENARIO, measure=QUICK), 2)
    boards = resolve_boards(["qemu-m4", "qemu-m55"])
    report = run_scenario(LocalExecutor(), job, tmp_path, boards)
    assert report.is_file()
    boards_machines = (("qemu-m4", "mps2-an386"), ("qemu-m55", "mps3-an547"))
    flash: dict[tuple[str, str], int] = {}
    for (board, machine), model in itertools.product(boards_machines, ("torch", "mlp")):
        artifact = tmp_path / "compiled" / f"{model}-onnx-c-mcu-{machine}.onnx-c"
        assert (artifact / "firmware.elf").is_file()
        res = load_results(tmp_path / "results" / board / f"{model}-onnx-c.json")
        assert res.verdict is not None and res.verdict.state == "VALID", res.verdict.line()
        target = (res.measurements or {}).get("target") or {}
        assert target.get("firmware_model") is True, target
        server = res.provenance["server"]
        assert (server["kind"], server["machine"], server["emulator"]) == (
            "mcu",
            machine,
            EMULATOR,
        )
        assert res.agreement is not None and res.agreement.agrees, res.agreement
        assert res.provenance["steps"]["compile"]["exit_code"] == 0
        flash[board, model] = target["flash_bytes"]
    for board, _ in boards_machines:  # the MLP's 6,600 weights against the CNN's 38,000
        assert flash[board, "mlp"] + 100_000 < flash[board, "torch"], flash

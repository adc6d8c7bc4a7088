"""check_boards: the local board probed for real, SSH boards that fail, and real sshd boards."""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

from __future__ import annotations

import json
import platform
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest_boards import (  # noqa: F401 - fixtures
    BOARD_RUNTIMES,
    amd64_board,
    arm64_board,
    board_client_key,
    write_inventory,
)
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures
from conftest_sshd import Sshd, fresh_known_hosts, sshd  # noqa: F401 - fixtures

from kenning.boards.check import check_boards
from kenning.boards.inventory import BoardEntry, Inventory, InventoryError
from kenning.boards.inventoryfile import load_inventory
from kenning.boards.probe import parse_probe, probe_local, probe_script
from kenning.boards.status import BoardStatus
from kenning.boards.table import format_boards, format_table
from kenning.core.registry import SHORT_NAMES

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("tensorflow", "torch", "tvm", "onnxruntime", "tflite_runtime", "ai_edge_litert")


def local_board(**fields: object) -> BoardEntry:
    return BoardEntry.model_validate(
        {"name": "local", "deploy": "local", "runtimes": ["tflite", "onnxruntime", "tvm"]} | fields
    )


def test_local_board_is_probed_without_importing_frameworks(tmp_path: Path) -> None:
    inventory_file = tmp_path / "inventory.yaml"
    inventory_file.write_text(
        f"boards:\n  local:\n    deploy: local\n    workdir: {tmp_path / 'not' / 'yet'}\n"
        "    runtimes: [tflite, onnxruntime, tvm, pytorch, null]\n"
    )
    script = textwrap.dedent(
        f"""
        import json, sys
        from kenning.boards import check_boards, load_inventory
        [status] = check_boards(load_inventory({str(inventory_file)!r}))
        print(json.dumps({{
            "ok": status.ok, "reachable": status.reachable, "arch": status.arch,
            "matches": status.arch_matches, "python": status.python,
            "found": status.runtimes_found, "missing": status.runtimes_missing,
            "free": status.free_bytes, "error": status.error,
            "imported": [m for m in {FRAMEWORKS!r} if m in sys.modules],
        }}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    status = json.loads(result.stdout)
    assert status["imported"] == []
    assert status["ok"] and status["reachable"] and status["matches"] and not status["error"]
    assert status["arch"] == {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    assert status["python"] == platform.python_version()
    assert status["found"] == {
        "tflite": "ai_edge_litert",
        "onnxruntime": "onnxruntime",
        "tvm": "tvm",
        "pytorch": "torch",
        "null": "built in",
    }
    assert status["missing"] == []
    # the workdir does not exist yet: its nearest existing folder's disk is measured
    assert 0 < status["free"] <= shutil.disk_usage(tmp_path).total


def test_missing_runtime_and_wrong_arch_are_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SHORT_NAMES["runtime"], "fake", "kenning_no_such_pkg.runtime.Fake")
    this = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    other = "arm64" if this == "amd64" else "amd64"
    status = probe_local(local_board(arch=other, runtimes=["tvm", "fake"]))
    assert status.reachable and not status.ok
    assert status.arch_matches is False
    assert status.runtimes_found == {"tvm": "tvm"}
    assert status.runtimes_missing == ["fake"]
    assert status.problems == [
        f"architecture is {platform.machine()}, the inventory says {other}",
        "runtimes not installed: fake",
    ]
    table = format_table([status], width=200)
    assert "runtimes not installed: fake" in table and f"{this} != {other}" in table


def test_the_remote_probe_script_agrees_with_the_local_probe(tmp_path: Path) -> None:
    """The one shell command sent to SSH boards, run here by sh: same answers as in-process."""
    board = local_board(
        python=sys.executable,
        workdir=str(tmp_path / "missing" / "dir"),
        runtimes=["tflite", "onnxruntime", "tvm", "pytorch", "null"],
    )
    output = subprocess.run(
        ["sh", "-c", probe_script(board)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    status = BoardStatus(board.name, board.arch, "script", reachable=True)
    remote = parse_probe(board, output, status)
    local = probe_local(board)
    for attribute in ("machine", "arch", "python"):
        assert getattr(remote, attribute) == getattr(local, attribute)
    assert remote.runtimes_found == local.runtimes_found
    assert remote.runtimes_missing == []
    assert remote.free_bytes is not None and local.free_bytes is not None
    assert abs(remote.free_bytes - local.free_bytes) < 256 * 2**20
    assert remote.ok


def test_probe_script_without_python_and_image_boards() -> None:
    board = BoardEntry(
        name="b", host="h", user="u", arch="arm64", runtimes=["tvm"], python="no-such-python3"
    )
    output = subprocess.run(
        ["sh", "-c", probe_script(board)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    status = parse_probe(board, output, BoardStatus("b", "arm64", "script", reachable=True))
    assert status.python is None and status.runtimes_missing == ["tvm"]
    assert "the board's python was not found (set `python:` in the inventory)" in status.problems

    image = BoardEntry(name="j", host="h", user="u", arch="arm64", deploy="image",
                       runtimes=["tvm"])  # fmt: skip
    assert "docker version" in probe_script(image) and "find_spec" not in probe_script(image)
    output = "machine aarch64\ndocker 20.10.24\ndf /dev/sda1 1000 10 990 1% /\n"
    status = parse_probe(image, output, BoardStatus("j", "arm64", "image", reachable=True))
    assert (status.arch, status.docker, status.free_bytes) == ("arm64", "20.10.24", 990 * 1024)
    assert status.ok
    assert "in the image" in format_table([status], width=200)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def ssh_board(name: str, port: int) -> BoardEntry:
    return BoardEntry(name=name, host="127.0.0.1", port=port, user="nobody", agent=True,
                 arch="amd64", runtimes=["tvm"])  # fmt: skip


def test_unreachable_board_is_reported_not_raised(tmp_path: Path, closed_port: int) -> None:
    inventory = Inventory(boards={"local": local_board(), "gone": ssh_board("gone", closed_port)})
    local, gone = check_boards(inventory, known_hosts=tmp_path / "known_hosts", timeout=5)
    assert local.ok
    assert not gone.reachable and not gone.ok
    assert gone.error is not None and "'gone'" in gone.error
    assert f"127.0.0.1:{closed_port}" in gone.error
    assert "Traceback" not in gone.error
    assert gone.problems == [gone.error]
    table = format_table([local, gone], width=250)
    row = next(line for line in table.splitlines() if line.startswith("gone "))
    assert " no " in row and gone.error.removeprefix("board 'gone', ")[:40] in row
    assert not (tmp_path / "known_hosts").exists()


def test_boards_are_probed_in_parallel(tmp_path: Path, silent_port: int) -> None:
    boards = {f"mute-{i}": ssh_board(f"mute-{i}", silent_port) for i in range(3)}
    inventory = Inventory(boards={"local": local_board(), **boards})
    started = time.monotonic()
    statuses = check_boards(
        inventory, ["mute-0", "mute-1", "mute-2"], known_hosts=tmp_path / "kh", timeout=1.5
    )
    took = time.monotonic() - started
    assert [status.name for status in statuses] == ["mute-0", "mute-1", "mute-2"]
    for status in statuses:
        assert not status.reachable
        assert status.error is not None and f"'{status.name}'" in status.error
        assert status.duration_s >= 1.0
    assert took < 3 * 1.5, f"probes were not parallel: {took:.1f} s"


def test_unknown_board_fails_before_probing(closed_port: int) -> None:
    inventory = Inventory(boards={"local": local_board()})
    with pytest.raises(InventoryError, match=r"unknown board 'nope'.*local"):
        check_boards(inventory, ["local", "nope"])


def test_shipped_inventory_lists() -> None:
    table = format_boards(load_inventory(ROOT / "inventory.yaml"), width=200)
    for text in ("local (default)", "pi@rpi4-1.lan:22", "libedgetpu.so.1"):
        assert text in table
    rows = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    assert "tcp 12345, loopback" in rows["rpi4-1"]
    assert "tcp 12345, exposed, tunnel auto" in rows["coral-1"]
    assert "\x1b[" not in table  # no colour unless asked


def test_an_exposed_board_is_listed_in_red() -> None:
    table = format_boards(load_inventory(ROOT / "inventory.yaml"), width=200, color=True)
    red = "\x1b[1;31m"
    rows = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    coral = next(line for name, line in rows.items() if "coral-1" in name)
    assert f"{red}coral-1" in coral and f"{red}tcp 12345, exposed" in coral
    assert red not in "".join(line for name, line in rows.items() if "coral-1" not in name)


def sshd_inventory(server: Sshd, folder: Path, **fields: object) -> Inventory:
    """An inventory with the local board and the sshd of this machine as board ``loopback``."""
    entry = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "key": str(server.key),
        "arch": {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()],
        "python": sys.executable,  # the venv's, which has the runtimes
        "workdir": str(folder / "remote" / "workdir"),
        "runtimes": ["tflite", "onnxruntime", "tvm", "pytorch"],
    } | fields
    path = folder / "inventory.yaml"
    path.write_text(
        yaml.safe_dump(
            {"boards": {"local": {"deploy": "local", "runtimes": ["tvm"]}, "loopback": entry}}
        )
    )
    return load_inventory(path)


@pytest.mark.ssh
def test_sshd_board_agrees_with_the_local_probe(
    sshd: Sshd, tmp_path: Path, closed_port: int
) -> None:
    inventory = Inventory(
        boards={
            **sshd_inventory(sshd, tmp_path).boards,
            "gone": ssh_board("gone", closed_port),
        }
    )
    local, loopback, gone = check_boards(inventory, known_hosts=sshd.known_hosts, timeout=20)
    assert local.ok and not gone.reachable
    assert loopback.error is None, loopback.error
    assert loopback.reachable and loopback.ok, loopback.problems
    here = probe_local(inventory.board("loopback").model_copy(update={"deploy": "local"}))
    for attribute in ("machine", "arch", "python", "runtimes_found"):
        assert getattr(loopback, attribute) == getattr(here, attribute)
    assert loopback.free_bytes is not None and here.free_bytes is not None
    assert abs(loopback.free_bytes - here.free_bytes) < 256 * 2**20


@pytest.mark.ssh
def test_sshd_board_with_wrong_arch_and_no_python(sshd: Sshd, tmp_path: Path) -> None:
    this = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    other = "arm64" if this == "amd64" else "amd64"
    inventory = sshd_inventory(sshd, tmp_path, arch=other, python="/nonexistent/python3")
    [status] = check_boards(inventory, ["loopback"], known_hosts=sshd.known_hosts, timeout=20)
    assert status.reachable and status.arch == this and status.arch_matches is False
    assert status.python is None
    assert status.runtimes_missing == ["tflite", "onnxruntime", "tvm", "pytorch"]
    assert status.problems[:2] == [
        f"architecture is {platform.machine()}, the inventory says {other}",
        "the board's python was not found (set `python:` in the inventory)",
    ]


@pytest.mark.ssh
def test_each_board_is_checked_against_its_own_known_hosts(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.ssh/known_hosts knows nobody
    (tmp_path / "own").mkdir()
    [trusted] = check_boards(
        sshd_inventory(sshd, tmp_path / "own", known_hosts=str(sshd.known_hosts)), timeout=20
    )[1:]
    assert trusted.reachable and trusted.ok, trusted.error or trusted.problems
    (tmp_path / "none").mkdir()
    [unknown] = check_boards(sshd_inventory(sshd, tmp_path / "none"), timeout=20)[1:]
    assert not unknown.reachable and unknown.error and "--trust-host-key" in unknown.error


@pytest.mark.ssh
def test_sshd_unknown_host_key_needs_trust(
    fresh_known_hosts: Callable[[bool], Sshd], tmp_path: Path
) -> None:
    server = fresh_known_hosts(False)
    inventory = sshd_inventory(server, tmp_path)
    [refused] = check_boards(inventory, ["loopback"], known_hosts=server.known_hosts)
    assert not refused.reachable
    assert refused.error is not None and "'loopback'" in refused.error
    assert "--trust-host-key" in refused.error
    [trusted] = check_boards(
        inventory, ["loopback"], known_hosts=server.known_hosts, trust_unknown_host=True
    )
    assert trusted.ok, trusted.problems
    assert server.entry in server.known_hosts.read_text()


@pytest.mark.docker
@pytest.mark.ssh
def test_container_board_over_ssh(amd64_board, tmp_path: Path) -> None:
    inventory = load_inventory(write_inventory(tmp_path / "inventory.yaml", [amd64_board]))
    [status] = check_boards(
        inventory, [amd64_board.name], known_hosts=amd64_board.known_hosts, timeout=20
    )
    assert status.error is None, status.error
    assert status.reachable and status.ok, status.problems
    assert (status.machine, status.arch) == ("x86_64", "amd64")
    assert status.python is not None and status.python.startswith("3.")
    assert sorted(status.runtimes_found) == sorted(BOARD_RUNTIMES)
    assert status.free_bytes is not None and status.free_bytes > 0


@pytest.mark.docker
@pytest.mark.ssh
def test_unknown_host_key_is_refused(amd64_board, tmp_path: Path) -> None:
    inventory = load_inventory(write_inventory(tmp_path / "inventory.yaml", [amd64_board]))
    empty = tmp_path / "known_hosts"
    [status] = check_boards(inventory, [amd64_board.name], known_hosts=empty, timeout=20)
    assert not status.reachable
    assert status.error is not None and f"'{amd64_board.name}'" in status.error
    assert "--trust-host-key" in status.error


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.ssh
def test_emulated_arm64_board_reports_arm64(arm64_board, tmp_path: Path) -> None:
    inventory = load_inventory(write_inventory(tmp_path / "inventory.yaml", [arm64_board]))
    [status] = check_boards(
        inventory, [arm64_board.name], known_hosts=arm64_board.known_hosts, timeout=120
    )
    assert status.error is None, status.error
    assert (status.machine, status.arch, status.arch_matches) == ("aarch64", "arm64", True)
    assert sorted(status.runtimes_found) == sorted(BOARD_RUNTIMES)
    assert status.ok, status.problems

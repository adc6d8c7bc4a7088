"""inventory.yaml: the shipped file, every error naming file:line, board and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kenning.boards.inventory import (
    PASSWORD_MESSAGE,
    BoardEntry,
    Inventory,
    InventoryError,
)
from kenning.boards.inventoryfile import load_inventory
from kenning.boards.protocolconfig import NetworkProtocolConfig, SerialProtocolConfig
from kenning.utils.errors import ConfigurationError
from kenning.utils.provenance import work_tree

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
boards:
  local:
    deploy: local
    runtimes: [tflite]
"""  # lines 1-4; the cases below start at line 5


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_inventory_validates() -> None:
    inventory = load_inventory(ROOT / "inventory.yaml")
    assert inventory.default == "local"
    assert {"local", "coral-1", "rpi4-1", "jetson-1"} <= set(inventory.names)
    local = inventory.board()
    assert local.is_local and local.host is None
    coral = inventory.board("coral-1")
    assert (coral.arch, coral.deploy, coral.runtimes) == ("arm64", "script", ["tflite"])
    assert coral.delegates == ["libedgetpu.so.1"] and coral.tags
    rpi = inventory.board("rpi4-1")
    assert rpi.runtimes == ["tflite", "onnxruntime", "tvm"] and rpi.user == "pi"
    assert rpi.key == Path("~/.ssh/id_ed25519").expanduser()
    jetson = inventory.board("jetson-1")
    assert jetson.deploy == "image" and jetson.agent
    assert isinstance(jetson.protocol, NetworkProtocolConfig)
    assert not jetson.protocol.expose  # loopback, through SSH
    assert isinstance(coral.protocol, NetworkProtocolConfig) and coral.protocol.expose
    for board in inventory.boards.values():
        if not (board.is_local or board.is_mcu):  # SSH boards
            assert board.host and board.user and (board.key or board.agent)


# (name, text after HEAD, line, board, key, words in the message)
INVALID = [
    (
        "bad arch",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: armv9
          runtimes: [tvm]
        """,
        8,
        "rpi4-1",
        "arch",
        "'armv9' is not one of amd64, arm64",
    ),
    (
        "password",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          password: hunter2
          arch: arm64
          runtimes: [tvm]
        """,
        8,
        "rpi4-1",
        "password",
        PASSWORD_MESSAGE,
    ),
    (
        "script board without host",
        """\
        rpi4-1:
          user: pi
          arch: arm64
          deploy: script
          runtimes: [tvm]
        """,
        5,
        "rpi4-1",
        "host",
        "is required for a `deploy: script` board",
    ),
    (
        "image board without user",
        """\
        jetson-1:
          host: 10.0.0.2
          arch: arm64
          deploy: image
          runtimes: [tvm]
        """,
        5,
        "jetson-1",
        "user",
        "is required for a `deploy: image` board",
    ),
    (
        "unknown runtime",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes:
            - tflite
            - tensorrt
        """,
        11,
        "rpi4-1",
        "runtimes",
        "'tensorrt' is not a runtime; valid runtimes: "
        "null, onnx-c, onnxruntime, pytorch, tflite, tvm",
    ),
    (
        "bad protocol port",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes: [tvm]
          protocol:
            kind: network
            port: 70000
        """,
        12,
        "rpi4-1",
        "protocol.port",
        "70000: input should be less than or equal to 65535",
    ),
    (
        "bad ssh port",
        """\
        rpi4-1:
          host: rpi4-1.lan
          port: twenty-two
          user: pi
          arch: arm64
          runtimes: [tvm]
        """,
        7,
        "rpi4-1",
        "port",
        "'twenty-two': input should be a valid integer",
    ),
    (
        "boolean ssh port",
        """\
        rpi4-1:
          host: rpi4-1.lan
          port: true
          user: pi
          arch: arm64
          runtimes: [tvm]
        """,
        7,
        "rpi4-1",
        "port",
        "True: input should be a valid integer",
    ),
    (
        "boolean protocol port",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes: [tvm]
          protocol: {kind: network, port: true}
        """,
        10,
        "rpi4-1",
        "protocol.port",
        "True: input should be a valid integer",
    ),
    (
        "boolean baud",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes: [tvm]
          protocol: {kind: serial, device: /dev/ttyUSB0, baud: false}
        """,
        10,
        "rpi4-1",
        "protocol.baud",
        "False: input should be a valid integer",
    ),
    (
        "unknown key",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes: [tvm]
          colour: red
        """,
        10,
        "rpi4-1",
        "colour",
        "unknown key; valid keys: deploy, arch, host",
    ),
    (
        "local board with host",
        """\
        pc:
          deploy: local
          host: pc.lan
          runtimes: [tvm]
        """,
        7,
        "pc",
        "host",
        "has no host",
    ),
    (
        "serial without device",
        """\
        mcu:
          host: mcu-host.lan
          user: me
          arch: arm64
          runtimes: [tflite]
          protocol: {kind: serial, baud: 115200}
        """,
        10,
        "mcu",
        "protocol.device",
        "is required",
    ),
    (
        "unknown protocol kind",
        """\
        mcu:
          host: mcu-host.lan
          user: me
          arch: arm64
          runtimes: [tflite]
          protocol:
            kind: usb
        """,
        10,
        "mcu",
        "protocol",
        "kind 'usb' is not one of network, serial",
    ),
    (
        "tunnel never on loopback",
        """\
        rpi4-1:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes: [tvm]
          protocol:
            port: 12345
            tunnel: never
        """,
        12,
        "rpi4-1",
        "protocol.tunnel",
        "`tunnel: never` needs `expose: true`",
    ),
    (
        "bad board name",
        """\
        RPi 4:
          host: rpi4-1.lan
          user: pi
          arch: arm64
          runtimes: [tvm]
        """,
        5,
        "RPi 4",
        "name",
        "must match [a-z0-9][a-z0-9._-]*",
    ),
    (
        "board defined twice",
        """\
        local:
          deploy: local
          runtimes: [tvm]
        """,
        5,
        "local",
        None,
        "appears twice (lines 2 and 5)",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "board", "key", "words"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_inventory_names_line_board_and_key(
    tmp_path: Path, text: str, line: int, board: str, key: str | None, words: str
) -> None:
    path = write(tmp_path, HEAD + textwrap.indent(textwrap.dedent(text), "  "))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    error = caught.value
    assert isinstance(error, ConfigurationError)
    subject = f"board '{board}', key '{key}': " if key else f"board '{board}': "
    assert f"{path}:{line}: {subject}" in str(error), str(error)
    assert words in str(error)
    assert (error.line, error.board, error.key) == (line, board, key)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "  rpi4-1:\n    host: [rpi4-1.lan\n    user: pi\n")
    with pytest.raises(InventoryError, match=r"inventory\.yaml:7: invalid YAML") as caught:
        load_inventory(path)
    assert caught.value.line == 7
    assert "Traceback" not in str(caught.value)


def test_password_anywhere_in_a_board_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + "  rpi4-1:\n    host: h\n    user: pi\n    arch: arm64\n    runtimes: [tvm]\n"
        + "    protocol: {kind: network, ssh_password: x}\n",
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value) == (
        f"{path}:10: board 'rpi4-1', key 'protocol.ssh_password': {PASSWORD_MESSAGE}"
    )
    with pytest.raises(ValueError, match="passwords are not accepted"):
        BoardEntry(name="x", host="h", user="u", arch="arm64", runtimes=["tvm"], password="p")  # type: ignore[call-arg]


def test_every_problem_is_reported_sorted_by_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "  b1:\n    host: h\n    user: u\n    arch: mips\n    runtimes: [tvm]\n"
        "  b2:\n    host: h\n    user: u\n    arch: arm64\n    runtimes: [cuda]\n",
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    lines = str(caught.value).splitlines()
    assert [problem.line for problem in caught.value.problems] == [8, 14]
    assert lines[0].startswith(f"{path}:8: board 'b1', key 'arch'")
    assert lines[1].startswith(f"{path}:14: board 'b2', key 'runtimes'")


def test_aliases_defaults_and_key_expansion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "  a:\n    host: a.lan\n    user: u\n    key: ~/.ssh/board\n    arch: aarch64\n"
        "    runtimes: [tvm]\n"
        "  b:\n    host: b.lan\n    user: u\n    agent: true\n    arch: x86_64\n"
        "    runtimes: [onnxruntime]\n    protocol: {kind: serial, device: /dev/ttyUSB0}\n"
        "  c:\n    host: c.lan\n    user: u\n    arch: arm64\n    runtimes: [null]\n"
        "    protocol: {port: 2000}\n",
    )
    inventory = load_inventory(str(path))
    a, b, c = (inventory.board(name) for name in "abc")
    assert (a.arch, b.arch) == ("arm64", "amd64")
    assert a.key == Path.home() / ".ssh" / "board"
    assert (a.deploy, a.port, a.python, a.workdir) == ("script", 22, "python3", "/tmp/kenning")
    assert a.protocol == NetworkProtocolConfig(port=12345, expose=False, tunnel="auto")
    assert b.protocol == SerialProtocolConfig(device="/dev/ttyUSB0", baud=115200)
    assert c.protocol == NetworkProtocolConfig(port=2000)
    assert inventory.source == path


def test_unknown_board_lists_the_known_ones(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, HEAD))
    with pytest.raises(InventoryError, match=r"unknown board 'coral-9'.*: local"):
        inventory.board("coral-9")


def test_default_must_be_a_board(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r":1: key 'default': board 'rpi' is not defined"):
        load_inventory(write(tmp_path, "default: rpi\n" + HEAD))


def test_programmatic_inventory() -> None:
    board = BoardEntry(name="local", deploy="local", runtimes=["tvm"])
    inventory = Inventory(boards={"local": board})
    assert inventory.board() is board
    assert board.arch in ("amd64", "arm64")  # this machine's


def test_environment_variable_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, HEAD + "  other:\n    deploy: local\n    runtimes: [tvm]\n")
    monkeypatch.chdir(ROOT)  # a ./inventory.yaml exists here, and is overridden
    monkeypatch.setenv("KENNING_INVENTORY", str(path))
    assert load_inventory().names == ["local", "other"]
    monkeypatch.setenv("KENNING_INVENTORY", str(tmp_path / "missing.yaml"))
    with pytest.raises(InventoryError, match=r"missing\.yaml \(named by \$KENNING_INVENTORY\)"):
        load_inventory()


def test_default_file_is_cwd_then_work_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KENNING_INVENTORY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_inventory().source == work_tree() / "inventory.yaml"
    write(tmp_path, HEAD)
    assert load_inventory().source == Path("inventory.yaml")
    assert load_inventory().names == ["local"]


#: a "billion laughs": a few hundred bytes that expand to 9^9 strings when walked
LAUGHS = (
    "a: &a [l,l,l,l,l,l,l,l,l]\n"
    + "".join(
        f"{new}: &{new} [{', '.join(['*' + old] * 9)}]\n"
        for old, new in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "boards: {}\n"
)


@pytest.mark.parametrize("document", [LAUGHS, "boards: &loop\n  x: *loop\n"])
def test_aliases_are_refused_at_once_with_their_line(tmp_path: Path, document: str) -> None:
    import time

    path = tmp_path / "inventory.yaml"
    path.write_text(document)
    start = time.monotonic()
    with pytest.raises(InventoryError, match=r"inventory.yaml:2: invalid YAML: aliases are not"):
        load_inventory(path)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    "document",
    [
        "boards:\n  x:\n" + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(5000)),
        "boards:\n  x: " + "[" * 5000 + "]" * 5000 + "\n",
        "boards:\n  x:\n" + "".join("  " * (i + 2) + "-\n" for i in range(5000)),
    ],
    ids=["mappings", "flow-lists", "block-lists"],
)
def test_a_deeply_nested_inventory_is_one_error_line(tmp_path: Path, document: str) -> None:
    import os
    import subprocess
    import sys

    path = tmp_path / "inventory.yaml"
    path.write_text(document)
    done = subprocess.run(
        [sys.executable, "-m", "kenning.cli", "boards"], capture_output=True, text=True,
        timeout=120, env=dict(os.environ, KENNING_INVENTORY=str(path)),
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}:") and "invalid YAML" in line, line
    assert "nest" in line, line


def test_a_large_inventory_keeps_its_lines_and_duplicates(tmp_path: Path) -> None:
    boards = "".join(
        f"  b{i}:\n    host: h{i}\n    user: pi\n    arch: arm64\n    runtimes: [tflite]\n"
        for i in range(3000)
    )
    path = write(tmp_path, HEAD + boards + "  b7:\n    host: again\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert f"{path}:15005: board 'b7'" in str(caught.value), str(caught.value)
    assert "appears twice (lines 40 and 15005)" in str(caught.value)

"""The SSH test boards (images/board-*) with plain paramiko: identity, runtimes, key-only login."""

# ruff: noqa: F811 - pytest fixtures imported from the conftest modules are redefined as arguments
from __future__ import annotations

import filecmp
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from conftest_boards import (
    SMALL_TMPFS,
    BoardFactory,
    TestBoard,
    amd64_board,  # noqa: F401 - fixture
    arm64_board,  # noqa: F401 - fixture
    board_client_key,  # noqa: F401 - fixture
    board_factory,  # noqa: F401 - fixture
    restart_board,
    write_inventory,
)
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures

from kenning.toolchain.images.catalogue import images_dir

ARCHS = [
    pytest.param("amd64", id="amd64"),
    pytest.param("arm64", id="arm64", marks=pytest.mark.slow),
]
MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}


def connect(
    board: TestBoard, known_hosts: Path | None = None, **kwargs: object
) -> paramiko.SSHClient:
    """An SSH client that only trusts the host keys in ``known_hosts``."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or board.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    options: dict[str, object] = {
        "username": board.user,
        "key_filename": str(board.key),
        "look_for_keys": False,
        "allow_agent": False,
        "timeout": 10,
        **kwargs,
    }
    try:
        client.connect(board.host, port=board.port, **options)
    except BaseException:
        client.close()
        raise
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 300) -> tuple[int, str, str]:
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    out, err = stdout.read().decode(), stderr.read().decode()
    return stdout.channel.recv_exit_status(), out, err


@pytest.fixture(params=ARCHS)
def board(request: pytest.FixtureRequest) -> TestBoard:
    found: TestBoard = request.getfixturevalue(f"{request.param}_board")
    return found


@pytest.fixture
def ssh(board: TestBoard) -> Iterator[paramiko.SSHClient]:
    client = connect(board)
    yield client
    client.close()


def test_the_two_board_images_differ_only_in_architecture() -> None:
    amd64, arm64 = images_dir() / "board-amd64", images_dir() / "board-arm64"
    for name in ("apt.in", "sshd_config", "entrypoint.sh"):
        assert filecmp.cmp(amd64 / name, arm64 / name, shallow=False), name
    dockerfile = (arm64 / "Dockerfile").read_text()
    assert (amd64 / "Dockerfile").read_text().replace("amd64", "arm64") == dockerfile

    def packages(folder: Path) -> list[str]:
        lines = (folder / "apt.lock").read_text().splitlines()
        return [ln.split("=")[0] for ln in lines if not ln.startswith("#")]

    assert packages(amd64) == packages(arm64)


def test_the_written_inventory_loads(tmp_path: Path) -> None:
    from kenning.boards.inventoryfile import load_inventory
    from kenning.boards.protocolconfig import NetworkProtocolConfig

    key = tmp_path / "id_ed25519"
    boards = [
        TestBoard(
            name=f"test-{arch}",
            port=40000 + i,
            key=key,
            known_hosts=tmp_path / "known_hosts",
            arch=arch,
            container=None,
            container_ip="172.17.0.9",
            host_key="ssh-ed25519 AAAA",
            ready_seconds=0.0,
        )
        for i, arch in enumerate(("amd64", "arm64"))
    ]
    inventory = load_inventory(write_inventory(tmp_path / "inventory.yaml", boards))
    assert inventory.names == ["local", "test-amd64", "test-arm64"]
    arm = inventory.board("test-arm64")
    expected = ("127.0.0.1", 40001, "kenning", key, "arm64")
    assert (arm.host, arm.port, arm.user, arm.key, arm.arch) == expected
    assert (arm.deploy, arm.python, arm.workdir) == ("script", "python3", "/home/kenning/kenning")
    protocol = arm.protocol
    assert isinstance(protocol, NetworkProtocolConfig)
    assert (protocol.port, protocol.tunnel) == (12345, "auto")


@pytest.mark.ssh
@pytest.mark.docker
def test_board_reports_its_architecture(board: TestBoard, ssh: paramiko.SSHClient) -> None:
    status, out, _ = run(ssh, "uname -m")
    assert (status, out.strip()) == (0, MACHINE[board.arch])
    assert re.fullmatch(r"ssh-ed25519 AAAA\S+", board.host_key)
    print(f"{board.name}: sshd ready {board.ready_seconds:.1f} s after docker run")


@pytest.mark.ssh
@pytest.mark.docker
def test_board_has_its_runtimes_but_not_kenning(ssh: paramiko.SSHClient) -> None:
    probe = (
        "import sys, ai_edge_litert, onnxruntime, tvm; "
        "print(sys.executable, onnxruntime.__version__, tvm.__version__)"
    )
    status, out, err = run(ssh, f"python3 -c '{probe}'")
    assert status == 0, err
    assert out.split()[0] == "/opt/venv/bin/python3"
    status, _, err = run(ssh, "python3 -c 'import kenning'")
    assert status == 1 and "No module named 'kenning'" in err


@pytest.mark.ssh
@pytest.mark.docker
def test_board_has_the_tools_a_deploy_uses(ssh: paramiko.SSHClient) -> None:
    status, out, err = run(ssh, "for t in df tail kill nohup sh setsid ps; do command -v $t; done")
    assert status == 0 and len(out.split()) == 7, out + err
    status, out, _ = run(ssh, "df -P /home/kenning | tail -n 1; whoami; echo $HOME")
    assert status == 0 and out.split()[-2:] == ["kenning", "/home/kenning"]


@pytest.mark.ssh
@pytest.mark.docker
def test_board_forwards_tcp_and_serves_sftp(ssh: paramiko.SSHClient, tmp_path: Path) -> None:
    transport = ssh.get_transport()
    assert transport is not None
    channel = transport.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0))
    try:
        assert channel.recv(64).startswith(b"SSH-2.0-OpenSSH")
    finally:
        channel.close()
    local = tmp_path / "payload.bin"
    local.write_bytes(bytes(range(256)) * 64)
    with ssh.open_sftp() as sftp:
        sftp.put(str(local), "payload.bin")
        assert sftp.stat("payload.bin").st_size == local.stat().st_size


@pytest.mark.ssh
@pytest.mark.docker
def test_board_refuses_passwords_and_root(board: TestBoard) -> None:
    with socket.create_connection((board.host, board.port), timeout=10) as sock:
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=10)
            with pytest.raises(paramiko.BadAuthenticationType) as refused:
                transport.auth_password(board.user, "kenning")
            assert refused.value.allowed_types == ["publickey"]
        finally:
            transport.close()
    with pytest.raises(paramiko.AuthenticationException):
        connect(board, username="root").close()


@pytest.mark.ssh
@pytest.mark.docker
def test_an_unknown_board_is_rejected(amd64_board: TestBoard, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(amd64_board, known_hosts=empty).close()


@pytest.mark.ssh
@pytest.mark.docker
def test_a_restarted_board_presents_a_new_host_key(
    board_factory: BoardFactory, tmp_path: Path
) -> None:
    board = board_factory("amd64")
    connect(board).close()
    new_key = restart_board(board)
    assert new_key != board.host_key
    with pytest.raises(paramiko.BadHostKeyException):
        connect(board).close()  # known_hosts still holds the old key
    updated = tmp_path / "known_hosts-updated"
    updated.write_text(f"[127.0.0.1]:{board.port} {new_key}\n")
    with connect(board, known_hosts=updated) as client:
        assert run(client, "uname -m")[0] == 0


@pytest.mark.ssh
@pytest.mark.docker
def test_a_board_with_a_small_disk_runs_out_of_space(board_factory: BoardFactory) -> None:
    board = board_factory("amd64", tmpfs=SMALL_TMPFS)
    with connect(board) as client:
        status, _, err = run(client, "head -c 2000000 /dev/zero > ~/small/big.bin")
        assert status != 0 and "No space left on device" in err
        status, out, _ = run(client, "df -P -k ~/small | tail -n 1")
    assert status == 0 and int(out.split()[1]) == 1024

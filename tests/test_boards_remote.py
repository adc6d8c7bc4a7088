"""RemoteBoard.serve on real boards: a server nobody else can drive.

Script boards are the sshd test containers (tests/conftest_boards.py); the image board is
this machine's sshd with its Docker. Checked on the board itself: the server listens on
loopback only (unless ``expose: true``), runs the zip whose SHA-256 was checked (a planted
same-size zip, a ``.partial`` or a link in the old fixed folder are never used), gets its
secret on stdin (never on a command line), runs as nobody in an image board's container,
and is stopped, container and all, within 10 s of its SSH connection dying.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments
from __future__ import annotations

import io
import os
import socket
import stat
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest_boards import (  # noqa: F401 - fixtures
    BOARD_WORKDIR,
    PROTOCOL_PORT,
    TestBoard,
    amd64_board,
    board_client_key,
    free_port,
    write_inventory,
)
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures
from conftest_sshd import Sshd, sshd  # noqa: F401 - fixtures

from kenning.boards.base import Endpoint
from kenning.boards.deploy import server_zip
from kenning.boards.inventoryfile import load_inventory
from kenning.boards.remote import RemoteBoard
from kenning.utils.errors import KenningError

pytestmark = [pytest.mark.ssh, pytest.mark.docker]


def entry_of(path: Path, name: str) -> Any:
    return load_inventory(path).board(name)


def on_board(board: TestBoard, script: str) -> tuple[int, str]:
    done = board.container.exec_run(["sh", "-c", script], user="kenning")
    return done.exit_code, done.output.decode(errors="replace")


def servers(board: TestBoard) -> list[str]:
    """Command lines on the board that run the server (or the watchdog that started it)."""
    done = board.container.exec_run(["pgrep", "-af", "kenning.scenarios.inference_server"])
    return done.output.decode(errors="replace").splitlines()


def run_folder(board: TestBoard) -> str:
    """The run's folder on the board (where the running server saves its model)."""
    [server] = [line for line in servers(board) if line.split(" ", 1)[1].startswith("python3 ")]
    return server.split("--save-model-path ")[1].split()[0].rsplit("/", 1)[0]


def handshake(endpoint: Endpoint, secret_file: Path) -> None:
    """Prove the secret in ``secret_file`` to the server at ``endpoint`` (the protocol's way)."""
    from kenning.runtimeprotocols.client import ProtocolClient
    from kenning.runtimeprotocols.network import NetworkProtocol

    protocol = NetworkProtocol(endpoint.host, endpoint.port, timeout=20,
                               secret_file=str(secret_file))  # fmt: skip
    with ProtocolClient(protocol):
        pass


def connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def wait_until(test: Callable[[], bool], within: float) -> float:
    """Seconds until ``test()`` holds; fails after ``within``."""
    start = time.monotonic()
    while not test():
        assert time.monotonic() - start < within, f"not within {within} s"
        time.sleep(0.1)
    return time.monotonic() - start


@contextmanager
def serving(remote: RemoteBoard, folder: Path) -> Iterator[tuple[Endpoint, list[Any]]]:
    """``remote.serve`` with the null runtime; also yields the SSH executors it made."""
    made: list[Any] = []
    connect = remote.connect

    def recorded() -> Any:
        made.append(connect())
        return made[-1]

    remote.connect = recorded  # type: ignore[method-assign]
    with remote.serve("null", "bin", folder) as endpoint:
        yield endpoint, made


def drop(executor: Any) -> None:
    """End the SSH connection the way a killed host does: no goodbye, the socket just ends."""
    executor._client.get_transport().sock.shutdown(socket.SHUT_RDWR)


def planted_zip(size: int, marker: str) -> bytes:
    """A zip of exactly ``size`` bytes whose inference_server would touch ``marker``."""
    evil = f"open({marker!r}, 'w').close()\n"

    def build(padding: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("kenning/__init__.py", evil)
            archive.writestr("kenning/scenarios/__init__.py", "")
            archive.writestr("kenning/scenarios/inference_server.py", evil)
            archive.writestr("pad", b"\0" * padding)
        return buffer.getvalue()

    data = build(size - len(build(0)))
    assert len(data) == size
    return data


def test_script_board_serves_on_loopback_from_the_verified_zip_only(
    amd64_board: TestBoard, tmp_path: Path
) -> None:
    board = amd64_board
    inventory = write_inventory(tmp_path / "inventory.yaml", [board], runtimes=["null"])
    cache = tmp_path / "deploy"
    package = server_zip(cache)
    old = f"{BOARD_WORKDIR}/local"  # the fixed folder of earlier versions
    plant = (
        f"mkdir -p {old} && ln -sf /home/kenning/victim {old}/server.log && "
        f"echo kept > /home/kenning/victim && echo x > {old}/model.bin.partial && "
        f"cp /tmp/planted.zip {BOARD_WORKDIR}/{package.name} && "
        f"cp /tmp/planted.zip {BOARD_WORKDIR}/{package.name}.partial"
    )
    planted = planted_zip(package.stat().st_size, "/home/kenning/pwned")
    board.container.put_archive("/tmp", _tar({"planted.zip": planted}))
    assert on_board(board, plant)[0] == 0
    remote = RemoteBoard(entry_of(inventory, board.name), cache=cache)
    with serving(remote, tmp_path / "local") as (endpoint, _):
        assert endpoint.host == "127.0.0.1"  # through the tunnel
        assert connects(endpoint.host, endpoint.port)
        assert not connects(board.container_ip, PROTOCOL_PORT)  # the board's loopback only
        secret = endpoint.secret_file
        assert secret is not None and stat.S_IMODE(secret.stat().st_mode) == 0o600
        handshake(endpoint, secret)  # the server got the same secret, on its stdin
        wrong = tmp_path / "wrong"
        wrong.write_text(os.urandom(32).hex() + "\n")
        wrong.chmod(0o600)
        with pytest.raises(KenningError, match="secret"):
            handshake(endpoint, wrong)
        [server] = [ln for ln in servers(board) if ln.split(" ", 1)[1].startswith("python3 ")]
        assert "--host 127.0.0.1" in server and "--secret-file -" in server
        assert secret.read_text().strip() not in on_board(board, "ps -eo args")[1]
        run = run_folder(board)
        assert run.startswith(f"{BOARD_WORKDIR}/run.")
        checked = on_board(board, f"stat -c %a {run}; sha256sum {run}/{package.name}")
        assert checked[1].split()[:2] == ["700", _sha256(package)]
    assert not secret.exists()
    assert "listening on" in (tmp_path / "local" / "server.log").read_text()
    assert on_board(board, f"test -e {run}")[0] == 1  # removed after the run
    untouched = on_board(board, "cat /home/kenning/victim; test -e /home/kenning/pwned")
    assert untouched == (1, "kept\n")  # the link was not written through, the zip never ran


def test_an_exposed_board_is_reached_on_its_network(
    amd64_board: TestBoard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = amd64_board
    inventory = write_inventory(
        tmp_path / "inventory.yaml", [board], runtimes=["null"],
        protocol={"port": PROTOCOL_PORT, "expose": True, "tunnel": "auto"},
    )  # fmt: skip
    data = yaml.safe_load(inventory.read_text())
    data["boards"][board.name].update(host=board.container_ip, port=22)  # Docker's bridge
    inventory.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("KENNING_KEEP_BOARD_FILES", "1")
    remote = RemoteBoard(entry_of(inventory, board.name), cache=tmp_path / "deploy")
    with serving(remote, tmp_path / "local") as (endpoint, _):
        assert (endpoint.host, endpoint.port) == (board.container_ip, PROTOCOL_PORT)
        assert endpoint.secret_file is not None
        handshake(endpoint, endpoint.secret_file)
        assert "--host 0.0.0.0" in " ".join(servers(board))
        run = run_folder(board)
    assert on_board(board, f"test -f {run}/server.log")[0] == 0  # kept
    on_board(board, f"rm -rf {run}")


def test_a_dropped_connection_stops_the_script_boards_server(
    amd64_board: TestBoard, tmp_path: Path
) -> None:
    board = amd64_board
    inventory = write_inventory(tmp_path / "inventory.yaml", [board], runtimes=["null"])
    remote = RemoteBoard(entry_of(inventory, board.name), cache=tmp_path / "deploy")
    with serving(remote, tmp_path / "local") as (_, made):
        assert len(servers(board)) == 2  # the watchdog's shell and the server
        drop(made[0])
        took = wait_until(lambda: not servers(board), 10)
    print(f"the server stopped {took:.1f} s after its SSH connection died")


def test_image_board_runs_an_unprivileged_server_that_dies_with_the_connection(
    sshd: Sshd, docker_client: Any, require_image: Callable[[str], None], tmp_path: Path
) -> None:
    require_image("target-amd64")
    port = free_port()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"default": "docker-board", "boards": {
        "docker-board": {"host": sshd.host, "port": sshd.port, "user": sshd.user,
                         "key": str(sshd.key), "known_hosts": str(sshd.known_hosts),
                         "arch": "amd64", "deploy": "image", "workdir": str(tmp_path / "wd"),
                         "runtimes": ["null"], "protocol": {"port": port}}}}))  # fmt: skip
    remote = RemoteBoard(entry_of(inventory, "docker-board"))
    prefix = f"kenning-server-{os.getpid()}-"

    def containers() -> list[Any]:
        return list(docker_client.containers.list(all=True, filters={"name": prefix}))

    with serving(remote, tmp_path / "local") as (endpoint, made):
        [container] = containers()
        top = container.top(ps_args="-o pid,uid,args")
        assert {row[1] for row in top["Processes"]} == {"65534"}, top  # init and server: nobody
        assert container.attrs["HostConfig"]["PortBindings"] == {
            f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        }
        assert endpoint.host == "127.0.0.1" and endpoint.port != port  # through the tunnel
        assert endpoint.secret_file is not None
        handshake(endpoint, endpoint.secret_file)
        drop(made[0])
        took = wait_until(lambda: not containers(), 10)
    print(f"the container was gone {took:.1f} s after its SSH connection died")


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tar(files: dict[str, bytes]) -> bytes:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

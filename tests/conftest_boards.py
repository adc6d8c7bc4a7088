"""SSH test boards: containers of kenning/board-amd64 and kenning/board-arm64 running sshd.

A board container looks like a real board: its runtimes (LiteRT, ONNX Runtime, TVM's
runtime) under ``python3``, no kenning, a user ``kenning`` that logs in with a key only.
Each container makes a new host key when it starts and prints it (``hostkey: ...``), from
which the fixture writes known_hosts, so clients can check host keys strictly.
The arm64 board runs under qemu-user emulation (slow: mark its tests ``slow``).

Use from a test file (fixtures must be visible in the test module)::

    from conftest_boards import amd64_board, arm64_board, board_client_key, board_factory
    from conftest_docker import docker_client, require_image

Without Docker or a board image the tests are skipped (``KENNING_REQUIRE_DOCKER=1``: fail),
as in :mod:`conftest_docker`. Containers carry the executor label (value ``board``) and
``org.kenning.pid``, so leftovers of a killed test run can be found and removed.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from kenning.executors.docker import CONTAINER_LABEL
from kenning.toolchain.images.catalogue import image_tag

#: value of the executor label on board containers (DockerExecutor's own are ``docker``)
BOARD_LABEL = "board"
#: seconds from ``docker run`` to an SSH banner before the board counts as broken
READY_TIMEOUT = {"amd64": 60.0, "arm64": 240.0}
#: a 1 MB file system in the board's home, owned by ``kenning`` (for the no-space test)
SMALL_TMPFS = {"/home/kenning/small": "size=1m,uid=1000,gid=1000,mode=0755"}
BOARD_USER = "kenning"
BOARD_WORKDIR = "/home/kenning/kenning"
BOARD_RUNTIMES = ("tflite", "onnxruntime", "tvm")
PROTOCOL_PORT = 12345


class BoardStartError(RuntimeError):
    """A board container did not come up; the message ends with its log."""


@dataclass(frozen=True, kw_only=True)
class TestBoard:
    """A running board container, reached over SSH on a loopback port."""

    __test__: ClassVar[bool] = False  # not a test class, despite the name

    name: str
    host: str = "127.0.0.1"
    port: int
    user: str = BOARD_USER
    key: Path
    known_hosts: Path
    arch: str
    container: Any
    container_ip: str
    host_key: str
    ready_seconds: float


def generate_client_key(folder: Path) -> Path:
    """Write an ed25519 key pair (``id_ed25519``, ``id_ed25519.pub``); return the private one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = folder / "id_ed25519"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    (folder / "id_ed25519.pub").write_text(public.decode() + " kenning-tests\n")
    return private


def free_port() -> int:
    """A loopback port the OS has just handed out (for a board that must keep its port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_keys(container: Any) -> list[str]:
    """The ``hostkey:`` lines the container printed, oldest first (one per start)."""
    text = container.logs(stdout=True, stderr=False).decode(errors="replace")
    return [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("hostkey:")]


def _log_tail(container: Any, lines: int = 20) -> str:
    try:
        return container.logs(tail=lines).decode(errors="replace")
    except Exception as exc:  # noqa: BLE001 - the log is only a hint in a failure message
        return f"(no log: {exc})"


def _banner(port: int, timeout: float = 2.0) -> bytes:
    """The first line sshd sends on 127.0.0.1:port (empty if the connection drops)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            data = b""
            while not data.endswith(b"\n") and len(data) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
            return data
    except OSError:
        return b""


def wait_ready(container: Any, arch: str, known: int = 0) -> tuple[str, int]:
    """Wait for host key number ``known + 1`` and an SSH banner; return (host key, port).

    Raises
    ------
    BoardStartError
        If the container exits or no banner comes within :data:`READY_TIMEOUT`.
    """
    deadline = time.monotonic() + READY_TIMEOUT[arch]
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            raise BoardStartError(
                f"board container {container.name} exited at start:\n{_log_tail(container)}"
            )
        keys = host_keys(container)
        bindings = container.ports.get("22/tcp") or []
        if len(keys) > known and bindings:
            port = int(bindings[0]["HostPort"])
            if _banner(port).startswith(b"SSH-"):
                return keys[-1], port
        time.sleep(0.2)
    raise BoardStartError(
        f"board container {container.name} ({arch}) did not answer SSH within "
        f"{READY_TIMEOUT[arch]:.0f} s:\n{_log_tail(container)}"
    )


def start_board(
    client: Any,
    arch: str,
    folder: Path,
    key: Path,
    *,
    name: str | None = None,
    host_port: int | None = None,
    tmpfs: Mapping[str, str] | None = None,
) -> TestBoard:
    """Run a board container and wait until its sshd answers.

    Parameters
    ----------
    client : docker.DockerClient
        A connected client.
    arch : str
        ``amd64`` or ``arm64`` (image ``kenning/board-ARCH``).
    folder : Path
        Where known_hosts is written.
    key : Path
        The client's private key; ``KEY.pub`` is authorised on the board.
    name : str, optional
        Board name (default ``test-ARCH``).
    host_port : int, optional
        Loopback port to publish on; default one Docker picks (it changes on restart).
    tmpfs : mapping of str to str, optional
        Extra tmpfs mounts, e.g. :data:`SMALL_TMPFS`.

    Raises
    ------
    BoardStartError
        If sshd does not come up (the container is removed).
    """
    from docker.errors import APIError

    start = time.monotonic()
    container_name = f"kenning-board-{arch}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        container = client.containers.run(
            image_tag(f"board-{arch}"),
            detach=True,
            name=container_name,
            environment={"KENNING_AUTHORIZED_KEY": key.with_suffix(".pub").read_text().strip()},
            ports={"22/tcp": ("127.0.0.1", host_port)},
            labels={CONTAINER_LABEL: BOARD_LABEL, "org.kenning.pid": str(os.getpid())},
            platform=f"linux/{arch}",
            tmpfs=dict(tmpfs or {}),
        )
    except APIError:
        # created but not started (e.g. the port was taken meanwhile): leave nothing behind
        for leftover in client.containers.list(all=True, filters={"name": container_name}):
            leftover.remove(force=True)
        raise
    try:
        host_key, port = wait_ready(container, arch)
    except BaseException:
        container.remove(force=True)
        raise
    ready = time.monotonic() - start
    container.reload()
    ip = container.attrs["NetworkSettings"]["IPAddress"]
    known_hosts = folder / f"known_hosts-{container.name}"
    # the bridge address too: a client may skip the published port (no docker-proxy hop)
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key}\n{ip} {host_key}\n")
    return TestBoard(
        name=name or f"test-{arch}",
        port=port,
        key=key,
        known_hosts=known_hosts,
        arch=arch,
        container=container,
        container_ip=ip,
        host_key=host_key,
        ready_seconds=ready,
    )


def restart_board(board: TestBoard) -> str:
    """Restart the board's container; return its new host key (known_hosts keeps the old).

    The board keeps its port only if it was started with ``host_port`` (see
    :func:`free_port`); :func:`board_factory` boards are.

    Raises
    ------
    BoardStartError
        If sshd does not come back.
    """
    before = len(host_keys(board.container))
    board.container.restart(timeout=2)
    host_key, port = wait_ready(board.container, board.arch, known=before)
    if port != board.port:
        raise BoardStartError(f"{board.name} came back on port {port}, not {board.port}")
    return host_key


def remove_board(board: TestBoard) -> None:
    """Remove the board's container (gone already is fine)."""
    from docker.errors import NotFound

    try:
        board.container.remove(force=True)
    except NotFound:
        pass


def write_inventory(path: Path, boards: Sequence[TestBoard], **overrides: Any) -> Path:
    """Write an inventory.yaml with the ``local`` board and these boards (script deploy).

    ``overrides`` replace keys of every board entry (e.g. ``protocol=...``).
    """
    entries: dict[str, Any] = {"local": {"deploy": "local", "runtimes": list(BOARD_RUNTIMES)}}
    for board in boards:
        entries[board.name] = {
            "host": board.host,
            "port": board.port,
            "user": board.user,
            "key": str(board.key),
            "arch": board.arch,
            "deploy": "script",
            "python": "python3",
            "workdir": BOARD_WORKDIR,
            "runtimes": list(BOARD_RUNTIMES),
            "protocol": {"kind": "network", "port": PROTOCOL_PORT, "tunnel": "auto"},
            "tags": ["docker", "test-board"],
            "known_hosts": str(board.known_hosts),
            # XNNPACK's int8 kernels compute wrong results under qemu-user (7.2)
            "runtime_args": {"tflite": ["--no-default-delegates"]}
            if board.arch == "arm64"
            else {},
            **overrides,
        }
    header = "".join(f"# {b.name}: published on {b.host}:{b.port}\n" for b in boards)
    body = yaml.safe_dump({"default": "local", "boards": entries}, sort_keys=False)
    path.write_text("# SSH test boards (tests/conftest_boards.py)\n" + header + body)
    return path


@pytest.fixture(scope="session")
def board_client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client key every test board authorises (private key path)."""
    return generate_client_key(tmp_path_factory.mktemp("board-key"))


def _session_board(
    arch: str,
    docker_client: Any,
    require_image: Callable[[str], None],
    key: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestBoard]:
    require_image(f"board-{arch}")
    board = start_board(docker_client, arch, tmp_path_factory.mktemp(f"board-{arch}"), key)
    yield board
    remove_board(board)


@pytest.fixture(scope="session")
def amd64_board(
    docker_client: Any,
    require_image: Callable[[str], None],
    board_client_key: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestBoard]:
    """An amd64 board for the whole session."""
    yield from _session_board(
        "amd64", docker_client, require_image, board_client_key, tmp_path_factory
    )


@pytest.fixture(scope="session")
def arm64_board(
    docker_client: Any,
    require_image: Callable[[str], None],
    board_client_key: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestBoard]:
    """An arm64 board (qemu-user emulation) for the whole session."""
    yield from _session_board(
        "arm64", docker_client, require_image, board_client_key, tmp_path_factory
    )


BoardFactory = Callable[..., TestBoard]


@pytest.fixture
def board_factory(
    docker_client: Any,
    require_image: Callable[[str], None],
    board_client_key: Path,
    tmp_path: Path,
) -> Iterator[BoardFactory]:
    """Start throwaway boards a test may restart, kill or fill; removed after the test.

    ``board_factory(arch="amd64", *, tmpfs=None, name=None)``; the board keeps its port
    across :func:`restart_board`.
    """
    started: list[TestBoard] = []

    def start(
        arch: str = "amd64", *, tmpfs: Mapping[str, str] | None = None, name: str | None = None
    ) -> TestBoard:
        require_image(f"board-{arch}")
        board = start_board(
            docker_client,
            arch,
            tmp_path,
            board_client_key,
            name=name or f"throwaway-{arch}-{len(started)}",
            host_port=free_port(),
            tmpfs=tmpfs,
        )
        started.append(board)
        return board

    yield start
    for board in started:
        remove_board(board)

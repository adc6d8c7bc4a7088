"""The SSH executor against a real sshd on 127.0.0.1 (no mocks): commands, files, host keys,
faults, background servers and tunnels."""

# ruff: noqa: F811 - pytest fixtures imported from conftest_sshd are redefined as arguments
from __future__ import annotations

import hashlib
import io
import os
import platform
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from capabilities import missing
from conftest_sshd import (  # noqa: F401 - fixtures
    Sshd,
    SshdProcess,
    free_port,
    fresh_known_hosts,
    keygen,
    own_sshd,
    sshd,
)

from kenning.executors.boarderrors import (
    AuthenticationRefusedError,
    BoardError,
    BoardUnreachableError,
    HostKeyError,
    RemoteCommandError,
    RemoteSpaceError,
)
from kenning.executors.errors import ExecutionTimeoutError
from kenning.executors.ssh.executor import TRUST_FLAG, SSHExecutor

pytestmark = pytest.mark.ssh

BOARD = "test-board"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def connect(server: Sshd, **options: object) -> SSHExecutor:
    settings: dict[str, object] = {
        "port": server.port,
        "user": server.user,
        "key_filename": server.key,
        "known_hosts": server.known_hosts,
        "board": BOARD,
        "connect_timeout": 5.0,
    }
    settings.update(options)
    return SSHExecutor(server.host, **settings)  # type: ignore[arg-type]


@pytest.fixture
def board(sshd: Sshd) -> Iterator[SSHExecutor]:
    with connect(sshd) as executor:
        yield executor


def gone(pid: int, within: float = 5.0) -> bool:
    """Whether local process ``pid`` (sshd is local) ends, or is a zombie, within seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if any(line.startswith("State:") and "Z" in line for line in status.splitlines()):
            return True
        time.sleep(0.05)
    return False


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- commands -----------------------------------------------------------------------------


def test_run_streams_output_and_records_the_board(board: SSHExecutor) -> None:
    out, err = io.StringIO(), io.StringIO()
    record = board.run(["sh", "-c", "echo out; echo err >&2"], stdout=out, stderr=err)
    assert out.getvalue() == "out\n"
    assert err.getvalue() == "err\n"
    assert record.executor == "ssh"
    assert record.host == BOARD
    machine = platform.machine()
    assert record.platform == f"linux/{_ARCH.get(machine, machine)}"
    assert board.uname_machine() == machine
    assert record.exit_code == 0
    assert record.command == ["sh", "-c", "echo out; echo err >&2"]
    assert record.workdir == str(Path.home())


def test_nonzero_exit_raises_with_board_status_and_stderr_tail(board: SSHExecutor) -> None:
    script = "for i in $(seq 1 30); do echo line$i >&2; done; exit 3"
    with pytest.raises(RemoteCommandError) as caught:
        board.run(["sh", "-c", script], stdout=io.StringIO(), stderr=io.StringIO())
    error = caught.value
    assert error.exit_code == 3
    assert error.board == BOARD
    assert error.stderr_tail[-1] == "line30"
    assert len(error.stderr_tail) == 20
    assert f"on board '{BOARD}'" in str(error)
    assert "status 3" in str(error)
    record = board.run(["sh", "-c", "exit 4"], check=False, stderr=io.StringIO())
    assert record.exit_code == 4


def test_env_workdir_and_python(board: SSHExecutor, tmp_path: Path) -> None:
    out = io.StringIO()
    record = board.run(
        ["sh", "-c", 'echo "$GREETING"; pwd'],
        env={"GREETING": "hello 'quoted' $world"},
        workdir=tmp_path,
        stdout=out,
    )
    assert out.getvalue().splitlines() == ["hello 'quoted' $world", str(tmp_path)]
    assert record.workdir == str(tmp_path)
    out = io.StringIO()
    record = board.run(["python", "-c", "import sys; print(sys.version_info[0])"], stdout=out)
    assert record.command[0] == "python3"
    assert out.getvalue() == "3\n"


def test_missing_workdir_fails_with_the_shell_message(board: SSHExecutor, tmp_path: Path) -> None:
    with pytest.raises(RemoteCommandError) as caught:
        board.run(["true"], workdir=tmp_path / "absent", stderr=io.StringIO())
    assert "absent" in " ".join(caught.value.stderr_tail)


def test_timeout_stops_the_remote_command(board: SSHExecutor, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(ExecutionTimeoutError) as caught:
        board.run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"], timeout=1.0)
    assert time.monotonic() - start < 8
    assert f"on board '{BOARD}'" in str(caught.value)
    assert gone(int(pidfile.read_text()))


def test_ctrl_c_stops_the_remote_command_and_its_children(
    board: SSHExecutor, tmp_path: Path
) -> None:
    pidfile, childfile = tmp_path / "pid", tmp_path / "child"
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            board.run(["sh", "-c", f"echo $$ > {pidfile}; sleep 30 & echo $! > {childfile}; wait"])
    finally:
        timer.cancel()
    assert gone(int(pidfile.read_text()))
    assert gone(int(childfile.read_text()))  # in the command's process group: stopped too


def test_connection_lost_mid_run(sshd: Sshd, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def cut_the_connection() -> None:  # kill the sshd process serving this connection
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text().strip():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        status = Path(f"/proc/{pidfile.read_text().strip()}/status").read_text()
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid"))
        os.kill(int(parent), signal.SIGKILL)

    with connect(sshd) as executor:
        cutter = threading.Thread(target=cut_the_connection)
        cutter.start()
        with pytest.raises(BoardUnreachableError) as caught:
            executor.run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"], timeout=20)
        cutter.join()
        assert caught.value.step == "running `sh`"
        assert "connection was lost" in str(caught.value)
        with pytest.raises(BoardUnreachableError):
            executor.run(["true"])
    subprocess.run(["pkill", "-F", str(pidfile)], check=False)  # sleep was orphaned


# --- files --------------------------------------------------------------------------------


def test_upload_download_round_trip(board: SSHExecutor, tmp_path: Path) -> None:
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    remote = tmp_path / "remote" / "a" / "b" / "payload.bin"
    board.upload(source, str(remote))
    assert sha256(remote) == sha256(source)
    back = tmp_path / "back" / "payload.bin"
    board.download(str(remote), back)
    assert sha256(back) == sha256(source)
    with pytest.raises(BoardError, match="no such file") as caught:
        board.download(str(tmp_path / "absent.bin"), tmp_path / "x")
    assert caught.value.board == BOARD
    with pytest.raises(BoardError, match=r"below-a-file\.bin failed") as caught:  # under a file
        board.upload(source, str(remote / "below-a-file.bin"))
    assert caught.value.step == "pushing payload.bin"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and permission to mount)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        missing("root", f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_no_space_left_while_pushing(board: SSHExecutor, small_disk: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    target = small_disk / "models" / "big.bin"
    with pytest.raises(RemoteSpaceError) as caught:
        board.upload(big, str(target))
    error = caught.value
    assert error.board == BOARD
    assert error.step == "pushing big.bin"
    assert error.needed == 3 * 1024 * 1024
    assert error.free <= 1024 * 1024
    assert "no space left" in str(error) and f"board '{BOARD}'" in str(error)
    assert not target.exists()
    assert board.free_bytes(str(small_disk / "not" / "yet")) == error.free
    board.run(["true"])  # the connection is still usable


# --- host keys ----------------------------------------------------------------------------


def test_unknown_host_key_is_refused_then_trusted_and_recorded(
    fresh_known_hosts: Callable[[bool], Sshd],
) -> None:
    server = fresh_known_hosts(False)
    with pytest.raises(HostKeyError) as caught:
        connect(server)
    message = str(caught.value)
    assert not caught.value.changed
    assert caught.value.step == "connecting"
    assert TRUST_FLAG in message
    assert f"ssh-keyscan -p {server.port} {server.host} >> {server.known_hosts}" in message
    assert server.known_hosts.read_text() == ""

    with connect(server, trust_unknown_host=True) as executor:
        executor.run(["true"])
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    assert server.known_hosts.read_text() == f"[127.0.0.1]:{server.port} {kind} {blob}\n"
    with connect(server) as executor:  # recorded: no flag needed any more
        executor.run(["true"])


def test_changed_host_key_is_refused_even_with_the_trust_flag(own_sshd: SshdProcess) -> None:
    old = own_sshd.info
    with connect(old) as executor:
        executor.run(["true"])
    recorded = old.known_hosts.read_text()
    server = own_sshd.restart_with_new_host_key()
    for trust in (False, True):
        with pytest.raises(HostKeyError) as caught:
            connect(server, trust_unknown_host=trust)
        message = str(caught.value)
        assert caught.value.changed
        assert "CHANGED" in message
        assert f"ssh-keygen -R '[127.0.0.1]:{server.port}' -f {server.known_hosts}" in message
        assert f"{server.known_hosts} line 1" in message
    assert server.known_hosts.read_text() == recorded  # nothing was overwritten
    # with hashed host names (ssh-keygen -H) the entry to remove is still found
    hashing = ["ssh-keygen", "-H", "-f", str(server.known_hosts)]
    subprocess.run(hashing, check=True, capture_output=True)
    assert "[127.0.0.1]" not in server.known_hosts.read_text()
    with pytest.raises(HostKeyError, match=f"{server.known_hosts} line 1"):
        connect(server)


# --- unreachable, refused -----------------------------------------------------------------


def test_closed_port_is_unreachable(sshd: Sshd) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        with pytest.raises(BoardUnreachableError) as caught:
            connect(sshd, port=port)
        # an unreachable board is not reported as a key problem
        with pytest.raises(BoardUnreachableError):
            connect(sshd, port=port, key_filename=sshd.folder / "absent_key")
    assert caught.value.board == BOARD
    assert caught.value.step == "connecting"
    assert f"board '{BOARD}', connecting: cannot connect to 127.0.0.1:{port}" in str(caught.value)


def test_silent_port_times_out(sshd: Sshd) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says a word
        start = time.monotonic()
        with pytest.raises(BoardUnreachableError) as caught:
            connect(sshd, port=silent.getsockname()[1], connect_timeout=1.0)
    assert time.monotonic() - start < 5
    assert "connecting" in str(caught.value)


def test_wrong_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "id_stranger")
    with pytest.raises(AuthenticationRefusedError) as caught:
        connect(sshd, key_filename=stranger)
    error = caught.value
    assert (error.board, error.step, error.user) == (BOARD, "connecting", sshd.user)
    assert str(stranger) in str(error) and f"user '{sshd.user}'" in str(error)


def test_missing_key_file_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    with pytest.raises(AuthenticationRefusedError, match="absent_key"):
        connect(sshd, key_filename=tmp_path / "absent_key")


def test_encrypted_key_file_asks_for_the_agent(sshd: Sshd, tmp_path: Path) -> None:
    locked = tmp_path / "id_locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)], check=True
    )
    with pytest.raises(AuthenticationRefusedError, match=r"encrypted.*ssh-agent"):
        connect(sshd, key_filename=locked)


def test_default_keys_from_home(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_bytes(sshd.key.read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with connect(sshd, key_filename=None) as executor:
        executor.run(["true"])
    (home / ".ssh" / "id_ed25519").unlink()
    with pytest.raises(AuthenticationRefusedError, match="ssh-agent"):
        connect(sshd, key_filename=None)


# --- background server, port, tunnel ------------------------------------------------------


def test_server_in_background_through_a_tunnel(board: SSHExecutor, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "hello.txt").write_text("hello through ssh\n")
    port = free_port()
    server = board.start_background(
        ["python", "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        "logs/server.log",
        workdir=str(served),
    )
    assert server.alive()
    board.wait_for_port(port, process=server, timeout=20)
    with board.forward(port) as local_port:
        assert local_port != port
        for _ in range(3):  # several connections through one tunnel
            url = f"http://127.0.0.1:{local_port}/hello.txt"
            with urllib.request.urlopen(url, timeout=10) as reply:
                assert reply.read() == b"hello through ssh\n"
    assert any("GET /hello.txt" in line for line in server.log_tail())
    server.stop()
    assert not server.alive()
    assert gone(server.pid)


def test_server_dying_before_listening_reports_its_log(board: SSHExecutor, tmp_path: Path) -> None:
    server = board.start_background(
        ["sh", "-c", "echo loading model >&2; echo 'model.tflite: not found' >&2; exit 1"],
        str(tmp_path / "server.log"),
    )
    with pytest.raises(BoardError) as caught:
        board.wait_for_port(free_port(), process=server, timeout=20)
    error = caught.value
    assert error.step == "starting the server"
    assert error.log_tail == ["loading model", "model.tflite: not found"]
    assert f"board '{BOARD}', starting the server" in str(error)
    assert "model.tflite: not found" in str(error)


def test_nothing_listening_times_out(board: SSHExecutor) -> None:
    with pytest.raises(BoardError, match=r"nothing listens on 127\.0\.0\.1"):
        board.wait_for_port(free_port(), timeout=0.5)


def test_tunnel_to_a_closed_port_drops_the_connection(board: SSHExecutor) -> None:
    with board.forward(free_port()) as local_port:
        with socket.create_connection(("127.0.0.1", local_port), timeout=5) as client:
            assert client.recv(1) == b""


def test_close_stops_background_processes_and_tunnels(sshd: Sshd, tmp_path: Path) -> None:
    executor = connect(sshd)
    sleepers = [
        executor.start_background(["sleep", "60"], str(tmp_path / f"sleep{i}.log"))
        for i in range(2)
    ]
    tunnel = executor.forward(free_port())
    local_port = tunnel.__enter__()
    executor.close()
    for sleeper in sleepers:
        assert gone(sleeper.pid)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", local_port), timeout=5).close()
    executor.close()  # twice is fine
    with pytest.raises(BoardUnreachableError, match="closed"):
        executor.run(["true"])

"""Background processes on a board end with their SSH session (a real sshd on 127.0.0.1).

The watchdog (kenning.executors.ssh.watch) holds a channel; a line given on stdin reaches the
command and no command line; killing the connection abruptly stops the process and runs its
hang-up command within seconds.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest_sshd are redefined as arguments
from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_sshd import Sshd, sshd  # noqa: F401 - fixtures

from kenning.executors.ssh.executor import SSHExecutor

pytestmark = pytest.mark.ssh


def connect(server: Sshd) -> SSHExecutor:
    return SSHExecutor(
        server.host, port=server.port, user=server.user, key_filename=server.key,
        known_hosts=server.known_hosts, board="watched", connect_timeout=5.0,
    )  # fmt: skip


@pytest.fixture
def board(sshd: Sshd) -> Iterator[SSHExecutor]:
    with connect(sshd) as executor:
        yield executor


def alive(pid: int) -> bool:
    """Whether local process ``pid`` (sshd is local) runs and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return not any(ln.startswith("State:") and "Z" in ln for ln in status.splitlines())


def wait_until(test: object, within: float) -> float:
    """Seconds until ``test()`` is true; fails after ``within`` seconds."""
    start = time.monotonic()
    while not test():  # type: ignore[operator]
        assert time.monotonic() - start < within, f"not within {within} s"
        time.sleep(0.05)
    return time.monotonic() - start


def all_command_lines() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


def test_a_line_on_stdin_reaches_the_command_and_no_command_line(
    board: SSHExecutor, tmp_path: Path
) -> None:
    secret = secrets.token_hex(32)
    got = tmp_path / "got"
    reader = f"IFS= read -r s; printf '%s' \"$s\" > {got}; exec sleep 60"
    process = board.start_background(["sh", "-c", reader], str(tmp_path / "log"),
                                     stdin=(secret + "\n").encode())  # fmt: skip
    wait_until(got.exists, 10)
    wait_until(lambda: got.read_text() == secret, 5)
    assert alive(process.pid) and secret not in all_command_lines()
    process.stop()
    assert not alive(process.pid)


def test_stdin_must_be_one_line(board: SSHExecutor, tmp_path: Path) -> None:
    for bad in (b"no newline", b"two\nlines\n", b"nul\0\n"):
        with pytest.raises(ValueError, match="one line"):
            board.start_background(["true"], str(tmp_path / "log"), stdin=bad)


def test_stop_runs_the_hangup_command(board: SSHExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "hung-up"
    process = board.start_background(["sleep", "600"], str(tmp_path / "log"),
                                     on_hangup=["touch", str(marker)])  # fmt: skip
    assert alive(process.pid)
    started = time.monotonic()
    process.stop()
    assert time.monotonic() - started < 5  # sleep ends on TERM: no grace period spent
    assert not alive(process.pid) and marker.exists()


@pytest.mark.parametrize("how", ["shutdown", "close"])
def test_a_killed_connection_stops_the_process_within_10_s(
    sshd: Sshd, tmp_path: Path, how: str
) -> None:
    marker = tmp_path / "hung-up"
    executor = connect(sshd)
    # ignores TERM: the watchdog must KILL it after its grace period
    stubborn = "trap '' TERM; while :; do sleep 0.2; done"
    process = executor.start_background(
        ["sh", "-c", stubborn], str(tmp_path / "log"), stdin=b"line\n",
        on_hangup=["touch", str(marker)],
    )  # fmt: skip
    assert alive(process.pid)
    transport = executor._client.get_transport()
    if how == "shutdown":  # the host vanished: its TCP connection ends without a goodbye
        transport.sock.shutdown(socket.SHUT_RDWR)
    else:
        transport.close()
    took = wait_until(lambda: not alive(process.pid) and marker.exists(), 10)
    print(f"stopped {took:.1f} s after the connection died ({how})")
    executor.close()  # the process is gone already: only a warning

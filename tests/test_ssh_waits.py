"""Every wait on a board is bounded: commands, their input and output, SFTP copies.

Against a real sshd on 127.0.0.1 (:mod:`conftest_sshd`), no mocks: a command that floods
stderr still finishes, one that outlives its deadline is given up on in time with a message
that names the board, the step, what was awaited and for how long, and a stalled SFTP server
(its session process stopped with SIGSTOP) does the same for a copy.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest_sshd are redefined as arguments
from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_sshd import Sshd, sshd  # noqa: F401 - fixtures

from kenning.executors.boarderrors import BoardTimeoutError
from kenning.executors.ssh import files as sshfiles
from kenning.executors.ssh.channel import run_command
from kenning.executors.ssh.executor import SSHExecutor

pytestmark = pytest.mark.ssh

BOARD = "waiting-board"
#: seconds a bounded wait may overrun its deadline (closing the channel, a loaded machine)
MARGIN_S = 3.0
TEN_MB = 10 * 1000 * 1000


@pytest.fixture
def board(sshd: Sshd) -> Iterator[SSHExecutor]:
    with SSHExecutor(sshd.host, port=sshd.port, user=sshd.user, key_filename=sshd.key,
                     known_hosts=sshd.known_hosts, board=BOARD,
                     connect_timeout=5.0) as executor:  # fmt: skip
        yield executor


def channel(board: SSHExecutor) -> object:
    return board.transport("test").open_session(timeout=5.0)


def kill_pidfile(pidfile: Path) -> None:
    """Stop what a test left running on the 'board' (this machine)."""
    if pidfile.is_file() and pidfile.read_text().strip().isdigit():
        subprocess.run(["kill", "-KILL", pidfile.read_text().strip()], check=False)


# --- output: stdout and stderr together ----------------------------------------------------


def test_ten_megabytes_on_stderr_do_not_block_the_command(board: SSHExecutor) -> None:
    # stderr first, stdout last: reading stdout before stderr would wait for ever here
    script = f"head -c {TEN_MB} /dev/zero | tr '\\0' e >&2; echo some; echo output"
    started = time.monotonic()
    assert board.output(script, "flooding stderr", timeout=60) == "some\noutput\n"
    done = run_command(channel(board), script, board=BOARD, step="flooding", deadline_s=60)
    assert time.monotonic() - started < 60
    assert done.exit_code == 0
    assert done.stdout == b"some\noutput\n"
    assert done.stderr == b"e" * TEN_MB


def test_run_streams_ten_megabytes_of_stderr_and_returns_the_status(board: SSHExecutor) -> None:
    out, err = io.StringIO(), io.StringIO()
    record = board.run(
        ["sh", "-c", f"head -c {TEN_MB} /dev/zero | tr '\\0' e >&2; echo done; exit 3"],
        check=False, timeout=60, stdout=out, stderr=err,
    )  # fmt: skip
    assert record.exit_code == 3
    assert out.getvalue() == "done\n"
    assert len(err.getvalue()) == TEN_MB


def test_a_command_reading_its_input_gets_eof_not_a_wait(board: SSHExecutor) -> None:
    assert board.output("cat; echo after", "reading stdin", timeout=10) == "after\n"


# --- deadlines -----------------------------------------------------------------------------


def test_a_command_past_its_deadline_names_board_step_and_wait(
    board: SSHExecutor, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    try:
        with pytest.raises(BoardTimeoutError) as caught:
            board.output(f"echo napping >&2; echo $$ > {pidfile}; exec sleep 30", "napping",
                         timeout=1.0)  # fmt: skip
        took = time.monotonic() - started
    finally:
        kill_pidfile(pidfile)
    assert took < 1.0 + MARGIN_S
    error = caught.value
    assert (error.board, error.step, error.timeout_s) == (BOARD, "napping", 1.0)
    assert "gave no exit status within 1 s" in str(error)
    assert str(error).startswith(f"board '{BOARD}', napping: `echo napping >&2;")
    assert error.log_tail == ["napping"]  # what it said before it went quiet
    assert board.output("echo still usable", "after") == "still usable\n"


def test_input_the_command_does_not_take_is_bounded_too(board: SSHExecutor) -> None:
    chunks = (b"x" * 65536 for _ in range(256))  # 16 MiB: far more than the SSH window
    sent: list[int] = []
    started = time.monotonic()
    with pytest.raises(BoardTimeoutError) as caught:
        run_command(channel(board), "sleep 30", board=BOARD, step="pushing nothing",
                    deadline_s=2.0, stdin=chunks, sent=sent.append, name="sleeper")  # fmt: skip
    assert time.monotonic() - started < 2.0 + MARGIN_S
    message = str(caught.value)
    assert message.startswith(f"board '{BOARD}', pushing nothing: `sleeper` had not taken all")
    assert "within 2 s" in message
    assert 0 < sum(sent) < 256 * 65536


def test_input_is_streamed_while_output_is_read(board: SSHExecutor) -> None:
    data = [os.urandom(1 << 20) for _ in range(12)]
    sent: list[int] = []
    done = run_command(channel(board), "sha256sum; head -c 3000000 /dev/zero >&2",
                       board=BOARD, step="hashing", deadline_s=60, stdin=iter(data),
                       sent=sent.append)  # fmt: skip
    assert done.exit_code == 0
    assert done.stdout.split()[0].decode() == hashlib.sha256(b"".join(data)).hexdigest()
    assert len(done.stderr) == 3000000 and sum(sent) == 12 << 20


def test_a_failure_feeding_the_input_is_raised_not_waited_on(board: SSHExecutor) -> None:
    def broken() -> Iterator[bytes]:
        yield b"first part\n"
        raise ValueError("the local stream broke")

    started = time.monotonic()
    with pytest.raises(ValueError, match="the local stream broke"):
        run_command(channel(board), "cat > /dev/null", board=BOARD, step="feeding",
                    deadline_s=60, stdin=broken())  # fmt: skip
    assert time.monotonic() - started < 15  # not the 60 s deadline


# --- SFTP ----------------------------------------------------------------------------------


def test_a_stalled_sftp_server_names_the_file(board: SSHExecutor, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(1 << 20))
    board.upload(source, str(tmp_path / "first.bin"))  # the SFTP session is open and works
    # the sshd process serving this connection is the shell's parent: stopping it stalls SFTP
    session = int(board.output("echo $PPID", "finding the session").strip())
    remote = tmp_path / "stalled" / "model.bin"
    os.kill(session, signal.SIGSTOP)
    started = time.monotonic()
    try:
        with pytest.raises(BoardTimeoutError) as caught:
            sshfiles.push(board, source, str(remote), stall_s=1.0)
        took = time.monotonic() - started
    finally:
        os.kill(session, signal.SIGCONT)
    assert took < 1.0 + MARGIN_S
    error = caught.value
    assert (error.board, error.step) == (BOARD, "pushing model.bin")
    assert f"gave no answer about {remote}" in str(error) and "within 1 s" in str(error)
    board.upload(source, str(remote))  # a new SFTP session: the board works again
    assert remote.read_bytes() == source.read_bytes()


def test_a_copy_past_its_deadline_says_how_far_it_got(board: SSHExecutor, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(32 << 20))  # about 0.3 s over loopback here: 6x the deadline
    remote = tmp_path / "copy" / "big.bin"
    with pytest.raises(BoardTimeoutError) as caught:
        sshfiles.push(board, source, str(remote), timeout=0.05)
    message = str(caught.value)
    assert f"{remote} (33,554,432 bytes) was not all copied" in message
    copied = re.search(r"\(([\d,]+) bytes were\) within 0.05 s", message)
    assert copied and int(copied.group(1).replace(",", "")) < 32 << 20, message
    board.download(str(source), tmp_path / "back.bin")  # usable afterwards
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()

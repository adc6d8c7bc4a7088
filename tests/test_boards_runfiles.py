"""A run's files: its private folder on the board, pushed files checked by SHA-256 there
(a real sshd on 127.0.0.1, real files)."""

# ruff: noqa: F811 - pytest fixtures imported from conftest_sshd are redefined as arguments
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_sshd import Sshd, sshd  # noqa: F401 - fixtures

from kenning.boards.runfolder import (
    make_run_folder,
    push_verified,
    remove_run_folder,
    sha256_of,
    verify_sha256,
)
from kenning.executors.boarderrors import BoardError
from kenning.executors.ssh.executor import SSHExecutor


@pytest.fixture
def board(sshd: Sshd) -> Iterator[SSHExecutor]:
    with SSHExecutor(sshd.host, port=sshd.port, user=sshd.user, key_filename=sshd.key,
                     known_hosts=sshd.known_hosts, board="files") as executor:  # fmt: skip
        yield executor


@pytest.mark.ssh
def test_each_run_gets_a_new_private_folder(board: SSHExecutor, tmp_path: Path) -> None:
    workdir = tmp_path / "work" / "dir"  # made when missing
    first, second = make_run_folder(board, str(workdir)), make_run_folder(board, str(workdir))
    assert first != second
    for folder in (first, second):
        assert Path(folder).parent == workdir
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    remove_run_folder(board, first)
    assert not Path(first).exists() and Path(second).is_dir()


@pytest.mark.ssh
def test_a_workdir_others_may_write_or_own_is_refused(board: SSHExecutor, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(BoardError, match=r"may be written by other users \(mode 777\)"):
        make_run_folder(board, str(shared))
    assert list(shared.iterdir()) == []  # nothing made in it
    if os.getuid() != 0:
        pytest.skip("only root can give a folder to another user")  # the rest needs chown
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(BoardError, match="belongs to uid 65534"):
        make_run_folder(board, str(theirs))
    sticky = tmp_path / "sticky"  # like /tmp: root's, world-writable, sticky
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert Path(make_run_folder(board, str(sticky))).parent == sticky


@pytest.mark.ssh
def test_a_pushed_file_is_checked_by_sha256_on_the_board(
    board: SSHExecutor, tmp_path: Path
) -> None:
    local = tmp_path / "kenning-server-0123.zip"
    local.write_bytes(os.urandom(300_000))
    run = make_run_folder(board, str(tmp_path / "work"))
    remote = f"{run}/{local.name}"
    push_verified(board, local, remote)
    assert Path(remote).read_bytes() == local.read_bytes()
    # the same size, other bytes (planted, or damaged on the way): refused and removed
    Path(remote).write_bytes(os.urandom(300_000))
    with pytest.raises(BoardError, match=r"its SHA-256 on the board is [0-9a-f]{64}, n") as caught:
        verify_sha256(board, remote, sha256_of(local))
    assert caught.value.step == f"checking {local.name}"
    assert not Path(remote).exists()

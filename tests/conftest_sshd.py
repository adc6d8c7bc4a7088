"""A real OpenSSH sshd process on 127.0.0.1, for the SSH executor tests.

Each server runs from its own folder: a fresh ed25519 host key, a client key pair whose public
half is the only authorized key, a known_hosts file that records the host key as
``[127.0.0.1]:PORT``, and the server's log. Keys only (no passwords, no PAM). Without
``/usr/sbin/sshd`` the ssh tests are skipped; with ``KENNING_REQUIRE_SSH=1`` (CI) they fail.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from capabilities import missing

SSHD = Path("/usr/sbin/sshd")
#: seconds sshd gets to start listening
START_TIMEOUT_S = 10.0

CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
MaxStartups 50
MaxSessions 50
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""


@dataclass(frozen=True)
class Sshd:
    """A running sshd and what a client needs to log in to it."""

    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    host_key: Path
    log: Path
    folder: Path

    @property
    def entry(self) -> str:
        """The server's name in known_hosts."""
        return f"[{self.host}]:{self.port}"


def unavailable(reason: str) -> None:
    missing("sshd", reason)


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS chose it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path) -> Path:
    """Write a new ed25519 key pair (``path``, ``path.pub``) without a passphrase."""
    for old in (path, path.with_suffix(".pub")):
        old.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kenning-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


class SshdProcess:
    """Starts, restarts (same port, maybe a new host key) and stops one sshd."""

    def __init__(self, folder: Path) -> None:
        if not SSHD.exists() or shutil.which("ssh-keygen") is None:
            unavailable("OpenSSH server not installed: apt-get install openssh-server")
        folder.mkdir(parents=True, exist_ok=True)
        try:  # sshd refuses to start without its privilege separation folder
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        except PermissionError:
            unavailable("sshd needs /run/sshd: create it as root (mkdir -m 755 /run/sshd)")
        self.folder = folder
        key = keygen(folder / "id_client")
        (folder / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        self.process: subprocess.Popen[bytes] | None = None
        self.info = self._start(keygen(folder / "host_ed25519"), None)
        self.info.known_hosts.write_text(self.known_line())

    def known_line(self) -> str:
        """The known_hosts line for the current host key."""
        kind, blob = self.info.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{self.info.entry} {kind} {blob}\n"

    def _start(self, host_key: Path, port: int | None) -> Sshd:
        log = self.folder / "sshd.log"
        for _attempt in range(5):
            chosen = port or free_port()
            config = self.folder / "sshd_config"
            config.write_text(CONFIG.format(port=chosen, host_key=host_key, folder=self.folder))
            offset = log.stat().st_size if log.exists() else 0
            with log.open("ab") as stream:
                process = subprocess.Popen(
                    [str(SSHD), "-D", "-e", "-f", str(config)],
                    stdout=stream,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._listening(process, log, offset):
                self.process = process
                return Sshd(
                    host="127.0.0.1",
                    port=chosen,
                    user=_user(),
                    key=self.folder / "id_client",
                    known_hosts=self.folder / "known_hosts",
                    host_key=host_key,
                    log=log,
                    folder=self.folder,
                )
            process.kill()
            process.wait()
        pytest.fail(f"sshd did not start; its log:\n{log.read_text(errors='replace')}")

    @staticmethod
    def _listening(process: subprocess.Popen[bytes], log: Path, offset: int) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with log.open("rb") as stream:
                stream.seek(offset)
                if b"Server listening on" in stream.read():
                    return True
            if process.poll() is not None:
                return False  # most likely the port was taken meanwhile: try another
            time.sleep(0.02)
        return False

    def restart_with_new_host_key(self) -> Sshd:
        """Same port and client key, a new host key; known_hosts keeps the old one."""
        self.stop()
        self.info = self._start(keygen(self.folder / "host_ed25519_new"), self.info.port)
        return self.info

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _user() -> str:
    import getpass

    return getpass.getuser()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """One sshd for the session; tests must not change its keys."""
    server = SshdProcess(tmp_path_factory.mktemp("sshd"))
    yield server.info
    server.stop()


@pytest.fixture
def own_sshd(tmp_path: Path) -> Iterator[SshdProcess]:
    """An sshd for this test only (it may restart it with a new host key)."""
    server = SshdProcess(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.fixture
def fresh_known_hosts(sshd: Sshd, tmp_path: Path) -> Callable[[bool], Sshd]:
    """The session sshd with a known_hosts of this test's own: empty, or with the host key."""

    def make(with_key: bool) -> Sshd:
        path = tmp_path / "known_hosts"
        path.write_text(sshd.known_hosts.read_text() if with_key else "")
        return replace(sshd, known_hosts=path)

    return make

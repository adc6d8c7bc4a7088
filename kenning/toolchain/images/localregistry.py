"""A registry on this machine: Debian's ``docker-registry`` on loopback, started and stopped.

On a machine without a registry, :func:`start_local_registry` runs the CNCF distribution
registry on 127.0.0.1 with its storage under ``build/registry/``; its address and PID are kept
there, so a later run finds it (:func:`local_registry`) and :func:`stop_local_registry` ends it.
Publishing to it (or to any registry) is :mod:`kenning.toolchain.images.registry`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kenning.executors.errors import RegistryError
from kenning.utils.provenance import work_tree

#: Debian's package for the CNCF distribution registry, and its binary
REGISTRY_PACKAGE = "docker-registry"
REGISTRY_BINARY = "/usr/bin/docker-registry"
#: where the local registry keeps its config, storage, log and state (under the work tree)
DEFAULT_ROOT = Path("build") / "registry"
_STATE = "registry.json"


@dataclass(frozen=True)
class LocalRegistry:
    """A ``docker-registry`` process serving on loopback."""

    address: str
    pid: int
    root: Path
    reused: bool = False

    @property
    def log(self) -> Path:
        """The registry's own log file."""
        return self.root / "registry.log"


def start_local_registry(
    root: Path | None = None, *, port: int = 0, timeout: float = 30.0
) -> LocalRegistry:
    """Start ``docker-registry`` on 127.0.0.1, or return the one already serving from ``root``.

    Parameters
    ----------
    root : Path, optional
        Folder for its config, image storage, log and state file (default
        ``build/registry/`` in the work tree).
    port : int
        Port to listen on (0: a free one).
    timeout : float
        Seconds to wait until it answers ``GET /v2/``.

    Returns
    -------
    LocalRegistry
        The running registry (``reused`` when it was already up).

    Raises
    ------
    RegistryError
        If the binary is missing, the process exits, or it does not answer within ``timeout``.
    """
    root = _root(root)
    running = local_registry(root)
    if running is not None:
        return running
    binary = shutil.which(REGISTRY_PACKAGE) or REGISTRY_BINARY
    if not Path(binary).is_file():
        raise RegistryError(
            "127.0.0.1", f"{REGISTRY_BINARY} not found: apt-get install {REGISTRY_PACKAGE}"
        )
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    # the same port as last time when it is free, so published references keep working
    address = f"127.0.0.1:{port or _previous_port(config) or _free_port()}"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
    )
    registry = LocalRegistry(address, _spawn(binary, config, root / "registry.log"), root)
    deadline = time.monotonic() + timeout
    while not _answers(address):
        if not _alive(registry.pid):
            raise RegistryError(address, f"docker-registry exited: {_tail(registry)}")
        if time.monotonic() > deadline:
            os.kill(registry.pid, signal.SIGKILL)
            raise RegistryError(
                address, f"did not answer GET /v2/ within {timeout:.0f} s: {_tail(registry)}"
            )
        time.sleep(0.1)
    (root / _STATE).write_text(json.dumps({"address": address, "pid": registry.pid}))
    return registry


def local_registry(root: Path | None = None) -> LocalRegistry | None:
    """The registry started from ``root`` if it is still serving, else None."""
    root = _root(root)
    try:
        state = json.loads((root / _STATE).read_text())
        address, pid = str(state["address"]), int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not _answers(address):
        return None
    return LocalRegistry(address, pid, root, reused=True)


def stop_local_registry(root: Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the registry started from ``root``; its storage stays. False if none was running."""
    running = local_registry(root)
    (_root(root) / _STATE).unlink(missing_ok=True)
    if running is None:
        return False
    os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(running.pid):
        os.kill(running.pid, signal.SIGKILL)
    return True


def _spawn(binary: str, config: Path, log: Path) -> int:
    """Start ``docker-registry serve CONFIG`` as a daemon (its own session, no parent here)."""
    shell = subprocess.run(
        [
            "sh",
            "-c",
            'setsid "$0" serve "$1" >>"$2" 2>&1 </dev/null & echo $!',
            binary,
            str(config),
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return int(shell.stdout.strip())


def _root(root: Path | None) -> Path:
    return (root or work_tree() / DEFAULT_ROOT).resolve()


def _previous_port(config: Path) -> int | None:
    try:
        found = re.search(r"addr: 127\.0\.0\.1:(\d+)", config.read_text())
    except OSError:
        return None
    if not found:
        return None
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the registry does
        try:
            probe.bind(("127.0.0.1", int(found.group(1))))
        except OSError:
            return None
    return int(found.group(1))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(address: str) -> bool:
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback
        with opener.open(f"http://{address}/v2/", timeout=1.0) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(registry: LocalRegistry, lines: int = 5) -> str:
    try:
        text = registry.log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"

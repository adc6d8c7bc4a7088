"""Probing boards (``invoke boards --check``): reachable, architecture, Python, runtimes, disk.

Every board is probed at the same time, each in its own thread; a board that fails gives a
:class:`BoardStatus` carrying the error message, so one bad board never hides the others.
The local board is probed in this process; an SSH board with ONE remote shell command
(:func:`probe_script`) whose output is parsed by :func:`parse_probe`. Runtimes are looked up
with ``importlib.util.find_spec``, so no framework is imported, here or on the board.
:func:`format_table` (from :mod:`kenning.boards.table`) prints the statuses.
"""

from __future__ import annotations

import io
import platform
import shlex
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path, PurePosixPath

from kenning.boards.inventory import Board, Inventory, normalize_arch
from kenning.boards.table import format_boards, format_table
from kenning.core.errors import ConfigurationError, KenningError
from kenning.core.registry import SHORT_NAMES
from kenning.executors.errors import ExecutionError

__all__ = [
    "BoardStatus",
    "check_boards",
    "format_boards",
    "format_table",
    "parse_probe",
    "probe_local",
    "probe_script",
    "probe_ssh",
]

#: runtime short name -> modules that provide it, in order of preference (none: built in)
RUNTIME_MODULES: dict[str, tuple[str, ...]] = {
    "tflite": ("ai_edge_litert", "tflite_runtime", "tensorflow"),
    "onnxruntime": ("onnxruntime",),
    "tvm": ("tvm",),
    "pytorch": ("torch",),
    "null": (),
}

#: runs on the board's python: prints its version and, per ``runtime=mod1,mod2`` argument,
#: the first module found (``-`` if none); importlib.util.find_spec imports nothing
_PYTHON_PROBE = """\
import sys, importlib.util as u
print("python", sys.version.split()[0])
for a in sys.argv[1:]:
    r, _, ms = a.partition("=")
    f = []
    for m in ms.split(","):
        try:
            if m and u.find_spec(m):
                f.append(m)
        except (ImportError, ValueError):
            pass
    print("runtime", r, f[0] if f else "-")
"""


def runtime_modules(runtime: str) -> tuple[str, ...]:
    """The modules whose presence means ``runtime`` can run (empty: nothing to install)."""
    if runtime in RUNTIME_MODULES:
        return RUNTIME_MODULES[runtime]
    # a plug-in runtime: its package is what must be installed
    return (SHORT_NAMES["runtime"].get(runtime, runtime).split(".")[0],)


@dataclass
class BoardStatus:
    """What probing one board found.

    Attributes
    ----------
    name : str
        The board.
    expected_arch : str
        The architecture the inventory declares.
    reachable : bool
        The probe ran on the board (SSH connected and authenticated, or the local board).
    machine : str, optional
        What ``uname -m`` said (``x86_64``, ``aarch64``, ...).
    arch : str, optional
        ``machine`` as kenning names it (``amd64``, ``arm64``).
    python : str, optional
        Version of the board's python (None: not found, or not probed for image boards).
    runtimes_found : dict of str to str
        Runtime -> the module providing it (``"built in"`` for null).
    runtimes_missing : list of str
        Runtimes the inventory lists that the board cannot run.
    free_bytes : int, optional
        Free space in the board's workdir (or its nearest existing parent).
    docker : str, optional
        The board's Docker server version (image boards only).
    error : str, optional
        The message of the error that stopped the probe.
    duration_s : float
        How long probing took.
    """

    name: str
    expected_arch: str
    deploy: str = "local"
    reachable: bool = False
    machine: str | None = None
    arch: str | None = None
    python: str | None = None
    runtimes_found: dict[str, str] = field(default_factory=dict)
    runtimes_missing: list[str] = field(default_factory=list)
    free_bytes: int | None = None
    docker: str | None = None
    error: str | None = None
    duration_s: float = 0.0

    @property
    def arch_matches(self) -> bool | None:
        """Whether the reported architecture is the declared one (None: not known)."""
        return None if self.arch is None else self.arch == self.expected_arch

    @property
    def problems(self) -> list[str]:
        """Everything that keeps the board from being benchmarked, one sentence each."""
        if self.error:
            return [self.error]
        found: list[str] = []
        if self.arch_matches is False:
            found.append(
                f"architecture is {self.machine}, the inventory says {self.expected_arch}"
            )
        if self.deploy == "image":
            if self.docker is None:
                found.append("docker is not usable on the board (needed by `deploy: image`)")
        elif self.python is None:
            found.append("the board's python was not found (set `python:` in the inventory)")
        if self.runtimes_missing:
            found.append(f"runtimes not installed: {', '.join(self.runtimes_missing)}")
        if self.free_bytes is None:
            found.append("free disk space could not be read")
        return found

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.reachable and not self.problems


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def probe_local(board: Board) -> BoardStatus:
    """Probe this machine as ``board`` (in-process, no subprocess, no framework imported)."""
    status = BoardStatus(board.name, board.arch, board.deploy, reachable=True)
    status.machine = platform.machine()
    status.arch = normalize_arch(status.machine)
    status.python = platform.python_version()
    for runtime in board.runtimes:
        modules = runtime_modules(runtime)
        present = [module for module in modules if find_spec(module) is not None]
        if not modules:
            status.runtimes_found[runtime] = "built in"
        elif present:
            status.runtimes_found[runtime] = present[0]
        else:
            status.runtimes_missing.append(runtime)
    workdir = _existing_parent(Path(board.workdir).expanduser().absolute())
    try:
        status.free_bytes = shutil.disk_usage(workdir).free
    except OSError:
        status.free_bytes = None  # reported as a problem, like a board whose df fails
    return status


def _remote_path(path: str) -> str:
    if path == "~" or path.startswith("~/"):
        return '"$HOME"' + (shlex.quote(path[1:]) if path != "~" else "")
    return shlex.quote(path)


def probe_script(board: Board) -> str:
    """The one shell command that probes an SSH board (POSIX sh; prints ``key value`` lines)."""
    lines = ['echo "machine $(uname -m)"']
    if board.deploy == "image":
        lines.append(
            "v=$(docker version --format '{{.Server.Version}}' 2>/dev/null) "
            '&& echo "docker $v" || echo "docker -"'
        )
    else:
        words = shlex.split(board.python) or ["python3"]
        python = " ".join(shlex.quote(word) for word in words)
        args = [
            f"{runtime}={','.join(runtime_modules(runtime))}"
            for runtime in board.runtimes
            if runtime_modules(runtime)
        ]
        lines.append(
            f"if command -v {shlex.quote(words[0])} >/dev/null 2>&1; then "
            f"{python} -c {shlex.quote(_PYTHON_PROBE)} {' '.join(map(shlex.quote, args))}; "
            'else echo "python -"; fi'
        )
    lines.append(
        f'd={_remote_path(str(PurePosixPath(board.workdir)))}; '
        'while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; '
        'df -Pk "$d" | tail -n 1 | sed "s/^/df /"'
    )  # fmt: skip
    return "\n".join(lines)


def parse_probe(board: Board, output: str, status: BoardStatus) -> BoardStatus:
    """Fill ``status`` from what :func:`probe_script` printed."""
    runtimes: dict[str, str] = {}
    for line in output.splitlines():
        word, _, rest = line.strip().partition(" ")
        values = rest.split()
        if word == "machine" and values:
            status.machine = values[0]
            status.arch = normalize_arch(values[0])
        elif word == "python" and values and values[0] != "-":
            status.python = values[0]
        elif word == "docker" and values and values[0] != "-":
            status.docker = values[0]
        elif word == "runtime" and len(values) == 2:
            runtimes[values[0]] = values[1]
        elif word == "df" and len(values) >= 4 and values[3].isdigit():
            status.free_bytes = int(values[3]) * 1024
    for runtime in board.runtimes:
        if board.deploy == "image":
            continue  # the runtimes come with the image, not with the board
        if not runtime_modules(runtime):
            status.runtimes_found[runtime] = "built in"
        elif runtimes.get(runtime, "-") != "-":
            status.runtimes_found[runtime] = runtimes[runtime]
        else:
            status.runtimes_missing.append(runtime)
    return status


def probe_ssh(
    board: Board,
    *,
    trust_unknown_host: bool = False,
    known_hosts: Path | None = None,
    timeout: float = 10.0,
) -> BoardStatus:
    """Probe an SSH board with one remote command.

    Raises
    ------
    ConfigurationError
        If the board has no host.
    KenningError
        From the SSH executor (unreachable, authentication refused, host key, timeout).
    """
    from kenning.executors.ssh import SSHExecutor

    if board.host is None:
        raise ConfigurationError(f"board '{board.name}' has no host to reach over SSH")
    status = BoardStatus(board.name, board.arch, board.deploy)
    stdout, stderr = io.StringIO(), io.StringIO()
    with SSHExecutor(
        board.host,
        port=board.port,
        user=board.user,
        key_filename=board.key,
        known_hosts=known_hosts,
        trust_unknown_host=trust_unknown_host,
        board=board.name,
        connect_timeout=timeout,
    ) as executor:
        executor.run(
            ["sh", "-c", probe_script(board)],
            timeout=timeout,
            check=True,
            stdout=stdout,
            stderr=stderr,
        )
    status.reachable = True
    return parse_probe(board, stdout.getvalue(), status)


def _probe(
    board: Board, trust_unknown_host: bool, known_hosts: Path | None, timeout: float
) -> BoardStatus:
    started = time.monotonic()
    try:
        if board.is_local:
            status = probe_local(board)
        else:
            status = probe_ssh(
                board,
                trust_unknown_host=trust_unknown_host,
                known_hosts=known_hosts,
                timeout=timeout,
            )
    except KenningError as exc:
        message = str(exc)
        if f"'{board.name}'" not in message:
            message = f"board '{board.name}': {message}"
        # a command that ran and failed means the board was reached
        status = BoardStatus(board.name, board.arch, board.deploy, error=message)
        status.reachable = isinstance(exc, ExecutionError)
    status.duration_s = time.monotonic() - started
    return status


def check_boards(
    inventory: Inventory,
    names: Sequence[str] | None = None,
    *,
    trust_unknown_host: bool = False,
    known_hosts: Path | None = None,
    timeout: float = 10.0,
) -> list[BoardStatus]:
    """Probe boards in parallel and return one status per board, in the order asked.

    Parameters
    ----------
    inventory : Inventory
        Where the boards are defined.
    names : sequence of str, optional
        Boards to probe (default: all of them).
    trust_unknown_host : bool
        Accept and record the host key of a board not yet in known_hosts.
    known_hosts : Path, optional
        The known_hosts file (default: ``~/.ssh/known_hosts``).
    timeout : float
        Seconds allowed to connect, and again to run the probe command.

    Returns
    -------
    list of BoardStatus
        Failures are in each status (``error``, ``problems``); nothing is raised for them.

    Raises
    ------
    InventoryError
        If a name is not a board of the inventory (checked before probing anything).
    """
    boards = [inventory.board(name) for name in (inventory.names if names is None else names)]
    if not boards:
        return []
    with ThreadPoolExecutor(max_workers=min(len(boards), 16)) as pool:
        futures = [
            pool.submit(_probe, board, trust_unknown_host, known_hosts, timeout)
            for board in boards
        ]
        return [future.result() for future in futures]

"""Probing one board: this machine directly, an SSH board with one remote shell command."""

from __future__ import annotations

import io
import platform
import shlex
import shutil
from importlib.util import find_spec
from pathlib import Path, PurePosixPath

from kenning.boards.base import Endpoint
from kenning.boards.inventory import BoardEntry, normalize_arch
from kenning.boards.runfolder import remote_path
from kenning.boards.status import PYTHON_PROBE, BoardStatus, runtime_modules
from kenning.utils.errors import ConfigurationError


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def probe_local(board: BoardEntry) -> BoardStatus:
    """Probe this machine as ``board`` (in-process, no subprocess, no framework imported)."""
    status = BoardStatus(board.name, board.build_arch, board.deploy, reachable=True)
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


def probe_mcu(board: BoardEntry, timeout: float = 10.0) -> BoardStatus:
    """Check a microcontroller board: its emulator is installed, or the real board answers.

    A real board (``emulator: none``) is reached on its line and must complete the handshake
    with the secret of its ``secret_file``: that proves kenning's firmware is flashed, with
    that secret.

    Raises
    ------
    MissingToolError
        If ``qemu-system-arm`` is not installed (an emulated board).
    BoardError
        If a real board has no serial line or its secret file is missing.
    KenningError
        If a real board does not answer on its line or refuses the secret.
    """
    from kenning.boards.mcu import McuBoard

    mcu = McuBoard(board)
    mcu.preflight()
    if board.emulator != "qemu":
        _handshake(mcu.real_endpoint(), timeout)
    status = BoardStatus(board.name, board.build_arch, board.deploy)
    status.reachable = True
    status.arch = board.build_arch
    status.machine = board.machine
    status.runtimes_found = {runtime: "firmware" for runtime in board.runtimes}
    return status


def _handshake(endpoint: Endpoint, timeout: float) -> None:
    """A session with the board on ``endpoint``'s serial line: the handshake, then closed."""
    from kenning.runtimeprotocols.client import ProtocolClient
    from kenning.runtimeprotocols.serial import SerialProtocol

    assert endpoint.serial is not None  # a real microcontroller's line
    protocol = SerialProtocol(
        port=endpoint.serial,
        baudrate=endpoint.baud,
        secret_file=str(endpoint.secret_file),
        timeout=timeout,
    )
    client = ProtocolClient(protocol)
    try:
        client.connect()
    finally:
        client.close()


def probe_script(board: BoardEntry) -> str:
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
            f"{python} -c {shlex.quote(PYTHON_PROBE)} {' '.join(map(shlex.quote, args))}; "
            'else echo "python -"; fi'
        )
    lines.append(
        f"d={remote_path(str(PurePosixPath(board.workdir)))}; "
        'while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; '
        'df -Pk "$d" | tail -n 1 | sed "s/^/df /"'
    )
    return "\n".join(lines)


def parse_probe(board: BoardEntry, output: str, status: BoardStatus) -> BoardStatus:
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
    board: BoardEntry,
    *,
    trust_unknown_host: bool = False,
    known_hosts: Path | None = None,
    timeout: float = 10.0,
) -> BoardStatus:
    """Probe an SSH board with one remote command.

    Host keys are checked against ``known_hosts``, else the board's own ``known_hosts:``,
    else ``~/.ssh/known_hosts``.

    Raises
    ------
    ConfigurationError
        If the board has no host.
    KenningError
        From the SSH executor (unreachable, authentication refused, host key, timeout).
    """
    from kenning.executors.ssh.executor import SSHExecutor

    if board.host is None:
        raise ConfigurationError(f"board '{board.name}' has no host to reach over SSH")
    status = BoardStatus(board.name, board.build_arch, board.deploy)
    stdout, stderr = io.StringIO(), io.StringIO()
    with SSHExecutor(
        board.host,
        port=board.port,
        user=board.user,
        key_filename=board.key,
        known_hosts=known_hosts or board.known_hosts,
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

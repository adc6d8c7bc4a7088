"""A board from the inventory reached over SSH: deploy the server, start it, reach it.

:meth:`RemoteBoard.serve` connects (host key checked), makes the run's private folder on
the board (:mod:`kenning.boards.runfolder`), deploys kenning's server side the board's way
(``script``: the zip, checked by SHA-256 on the board; ``image``: the target image, run as
an unprivileged user; see :mod:`kenning.boards.deploy`), makes a fresh secret (in a 0600
file here, on the server's stdin there:
:func:`kenning.runtimeprotocols.handshake.run_secret`), starts
``inference_server`` in the background under a watchdog that stops it if the SSH connection
dies (:mod:`kenning.executors.ssh.watch`), waits until it listens, and yields where this host
reaches it. The server listens on the board's loopback and is reached through an SSH
tunnel; with ``expose: true`` it listens on every interface, and is reached directly when
the port answers (``tunnel: auto``) or must be (``tunnel: never``). Whatever happens, the
server is stopped, the tunnel closed, the server's log fetched into the local folder and the
run's folder on the board removed (kept with ``keep_files`` or ``KENNING_KEEP_BOARD_FILES=1``).
"""

from __future__ import annotations

import logging
import os
import posixpath
import secrets
import shlex
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from kenning.boards.base import Endpoint
from kenning.boards.deploy import push_image, server_zip
from kenning.boards.inventory import BoardEntry
from kenning.boards.protocolconfig import SerialProtocolConfig
from kenning.boards.reach import server_address
from kenning.boards.runfolder import make_run_folder, push_verified, remove_run_folder
from kenning.executors.boarderrors import BoardError
from kenning.executors.labels import image_tag
from kenning.runtimeprotocols.handshake import run_secret
from kenning.utils.errors import ConfigurationError, KenningError

log = logging.getLogger("kenning.boards")

#: seconds the server gets to listen (runtimes import slowly on small or emulated boards)
STARTUP_TIMEOUT_S = 300.0
#: what the server prints once it listens
LISTENING = "listening on"
#: environment variable that keeps each run's folder on the board (for debugging)
KEEP_ENV = "KENNING_KEEP_BOARD_FILES"
#: the user and group the server runs as in an image board's container (nobody:nogroup)
CONTAINER_USER = "65534:65534"
#: where the server saves the model in an image board's container
CONTAINER_FOLDER = "/tmp"


class RemoteBoard:
    """A ``script`` or ``image`` board of the inventory.

    Parameters
    ----------
    entry : kenning.boards.inventory.BoardEntry
        The board's inventory entry.
    trust_host_key : bool
        Accept (and record) an unknown host key.
    known_hosts : Path, optional
        The known_hosts file (default: the entry's, else ``~/.ssh/known_hosts``).
    cache : Path
        Local folder for what is pushed (the server zip).
    keep_files : bool, optional
        Keep each run's folder on the board (default: ``KENNING_KEEP_BOARD_FILES=1``).
    """

    def __init__(
        self,
        entry: BoardEntry,
        *,
        trust_host_key: bool = False,
        known_hosts: Path | None = None,
        cache: Path = Path("build") / "deploy",
        keep_files: bool | None = None,
    ) -> None:
        if isinstance(entry.protocol, SerialProtocolConfig) and not entry.protocol.board_device:
            raise ConfigurationError(
                f"board '{entry.name}': a serial board needs `protocol.board_device`, the "
                "board's end of the line where kenning starts its server (e.g. /dev/ttyS1)"
            )
        self.entry = entry
        self.name = entry.name
        self.arch: str = entry.build_arch
        self.on_this_machine: str | None = None
        self.runtimes = list(entry.runtimes)
        self.trust_host_key = trust_host_key
        self.known_hosts = known_hosts or entry.known_hosts
        self.cache = cache
        self.keep_files = os.environ.get(KEEP_ENV) == "1" if keep_files is None else keep_files

    def preflight(self) -> None:
        """Check the board answers over SSH, before anything is compiled for it.

        Raises
        ------
        BoardError
            If it is unreachable, refuses our key, or its host key is unknown or changed.
        """
        with self.connect() as board:
            board.output("true", "checking that the board answers")

    def connect(self) -> Any:
        """An SSH executor connected to the board.

        Raises
        ------
        BoardError
            If it is unreachable, refuses our key, or its host key is unknown or changed.
        """
        from kenning.executors.ssh.executor import SSHExecutor

        e = self.entry
        return SSHExecutor(
            str(e.host),
            port=e.port,
            user=e.user,
            key_filename=e.key,
            known_hosts=self.known_hosts,
            trust_unknown_host=self.trust_host_key,
            board=e.name,
            python=e.python,
        )

    def describe(self) -> dict[str, Any]:
        """The board as results record it (no secrets: the key's path only)."""
        e = self.entry
        described = {
            "name": e.name,
            "kind": "ssh",
            "host": e.host,
            "port": e.port,
            "user": e.user,
            "arch": e.arch,
            "deploy": e.deploy,
            "tags": list(e.tags),
        }
        if isinstance(e.protocol, SerialProtocolConfig):
            described["protocol"] = f"serial {e.protocol.device} at {e.protocol.baud} baud"
        return described

    def _server_args(
        self, runtime: str, suffix: str, folder: str, bind: str, extra: Sequence[str] = ()
    ) -> list[str]:
        protocol = self.entry.protocol
        if isinstance(protocol, SerialProtocolConfig):
            where = [
                "serial",
                runtime,
                "--port",
                str(protocol.board_device),
                "--baudrate",
                str(protocol.baud),
            ]
        else:
            where = ["network", runtime, "--host", bind, "--port", str(protocol.port)]
        args = [
            "-m",
            "kenning.scenarios.inference_server",
            *where,
            "--save-model-path",
            posixpath.join(folder, f"model.{suffix}"),
            "--secret-file",
            "-",
        ]
        if self.entry.delegates and runtime == "tflite":
            args += ["--delegates-list", *self.entry.delegates]
        return [*args, *self.entry.runtime_args.get(runtime, []), *extra]

    @contextmanager
    def serve(
        self, runtime: str, suffix: str, folder: Path, args: Sequence[str] = (), **_: object
    ) -> Iterator[Endpoint]:
        """Deploy, start ``inference_server`` with ``runtime``, yield where to reach it.

        The endpoint carries the run's secret file (here, mode 0600; removed at the end);
        ``artifact`` is not used: the model is sent through the protocol.

        Raises
        ------
        BoardError
            Naming the board and the step (connecting, pushing, starting the server, ...).
        """
        if runtime not in self.runtimes:
            raise BoardError(
                self.name,
                "choosing the runtime",
                f"the board offers {', '.join(self.runtimes)}, not {runtime}; "
                "edit its `runtimes:` in inventory.yaml if it has it",
            )
        protocol = self.entry.protocol
        folder.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            board = stack.enter_context(self.connect())
            remote = make_run_folder(board, self.entry.workdir)
            if self.keep_files:
                log.info("board %s: this run's files are kept in %s", self.name, remote)
            else:
                stack.callback(remove_run_folder, board, remote)
            secret, secret_file = stack.enter_context(run_secret(folder))
            log_name = posixpath.join(remote, "server.log")
            process = self._start(board, runtime, suffix, remote, log_name, args, secret)
            stack.callback(self._fetch_log, board, log_name, folder / "server.log")
            stack.callback(_stop, self.name, process)
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            _wait_listening(board, process, deadline)
            if isinstance(protocol, SerialProtocolConfig):  # the host talks on its end
                yield Endpoint("", 0, secret_file, protocol.device, protocol.baud)
                return
            board.wait_for_port(
                protocol.port, process=process, timeout=max(1.0, deadline - time.monotonic())
            )
            host, port = server_address(self.name, str(self.entry.host), board, stack, protocol)
            yield Endpoint(host, port, secret_file)

    def _start(
        self,
        board: Any,
        runtime: str,
        suffix: str,
        remote: str,
        log_name: str,
        extra: Sequence[str],
        secret: str,
    ) -> Any:
        protocol = self.entry.protocol
        line = (secret + "\n").encode()
        if self.entry.deploy == "image":
            tag = image_tag(f"target-{self.arch}")
            push_image(board, tag)
            name = f"kenning-server-{os.getpid()}-{secrets.token_hex(4)}"
            if isinstance(protocol, SerialProtocolConfig):  # the line, passed in as it is
                reach = ["--device", str(protocol.board_device)]
            else:  # published on the board's loopback unless exposed
                port = str(protocol.port)
                reach = ["-p", f"{port}:{port}" if protocol.expose else f"127.0.0.1:{port}:{port}"]
            args = self._server_args(runtime, suffix, CONTAINER_FOLDER, "0.0.0.0", extra)
            command = [
                "docker",
                "run",
                "--rm",
                "-i",
                "--init",
                "--name",
                name,
                "--user",
                CONTAINER_USER,
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                *reach,
                tag,
                "python",
                *args,
            ]
            return board.start_background(
                command, log_name, stdin=line, on_hangup=["docker", "rm", "-f", name]
            )
        package = server_zip(self.cache)
        target = posixpath.join(remote, package.name)
        push_verified(board, package, target)
        bind = "0.0.0.0" if getattr(protocol, "expose", False) else "127.0.0.1"
        args = self._server_args(runtime, suffix, remote, bind, extra)
        return board.start_background(
            ["python", *args], log_name, env={"PYTHONPATH": target}, stdin=line
        )

    def _fetch_log(self, board: Any, remote: str, local: Path) -> None:
        try:
            board.download(remote, local)
        except KenningError as exc:  # the board may be gone: the error that matters is raised
            log.warning("board %s: could not fetch the server log: %s", self.name, exc)


def _stop(board: str, process: Any) -> None:
    try:
        process.stop()
    except KenningError as exc:  # the board may be gone: the error that matters is raised
        log.warning("board %s: could not stop the server: %s", board, exc)


def _wait_listening(board: Any, process: Any, deadline: float) -> None:
    """Wait for the server's "listening on" line (a published port answers before it does)."""
    step = "starting the server"
    found = f"grep -qs {shlex.quote(LISTENING)} {shlex.quote(process.log_path)}"
    while board.output(f"{found} && echo yes || true", step).strip() != "yes":
        if not process.alive():
            detail = f"`{shlex.join(process.command)}` (pid {process.pid}) exited before listening"
            raise BoardError(board.board, step, detail, process.log_tail())
        if time.monotonic() > deadline:
            detail = f"it did not say '{LISTENING}' within {STARTUP_TIMEOUT_S:g} s"
            raise BoardError(board.board, step, detail, process.log_tail())
        time.sleep(0.2)

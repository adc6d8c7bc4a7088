"""A board from the inventory reached over SSH: deploy the server, start it, reach it.

:meth:`RemoteBoard.serve` connects (host key checked), deploys kenning's server side the
board's way (``script`` or ``image``, see :mod:`kenning.boards.deploy`), starts
``inference_server`` in the background with its log on the board, waits for its port,
and yields where this host reaches it: the board's address, or a local port tunnelled
through SSH when the port cannot be reached directly (``tunnel: auto``) or never should
be (``tunnel: always``). Whatever happens, the server is stopped, the tunnel closed and
the server's log fetched into the local folder.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shlex
import socket
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from kenning.boards.base import Endpoint
from kenning.boards.deploy import push_image, push_once, server_zip
from kenning.boards.inventory import BoardEntry, NetworkProtocolConfig
from kenning.executors.boarderrors import BoardError
from kenning.executors.labels import image_tag
from kenning.utils.errors import ConfigurationError, KenningError

log = logging.getLogger("kenning.boards")

#: seconds the server gets to listen (runtimes import slowly on small or emulated boards)
STARTUP_TIMEOUT_S = 300.0


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
    """

    def __init__(
        self,
        entry: BoardEntry,
        *,
        trust_host_key: bool = False,
        known_hosts: Path | None = None,
        cache: Path = Path("build") / "deploy",
    ) -> None:
        if not isinstance(entry.protocol, NetworkProtocolConfig):
            raise ConfigurationError(
                f"board '{entry.name}': benchmarking over a serial link is run by hand with "
                "inference_server/inference_tester (see README); `invoke bench` needs "
                "protocol kind network"
            )
        self.entry = entry
        self.name = entry.name
        self.arch: str = entry.arch
        self.runtimes = list(entry.runtimes)
        self.trust_host_key = trust_host_key
        self.known_hosts = known_hosts or entry.known_hosts
        self.cache = cache

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
        from kenning.executors.ssh import SSHExecutor

        e = self.entry
        return SSHExecutor(
            str(e.host), port=e.port, user=e.user, key_filename=e.key,
            known_hosts=self.known_hosts, trust_unknown_host=self.trust_host_key,
            board=e.name, python=e.python,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """The board as results record it (no secrets: the key's path only)."""
        e = self.entry
        return {"name": e.name, "kind": "ssh", "host": e.host, "port": e.port, "user": e.user,
                "arch": e.arch, "deploy": e.deploy, "tags": list(e.tags)}  # fmt: skip

    def _server_args(
        self, runtime: str, suffix: str, folder: str, bind: str, extra: Sequence[str] = ()
    ) -> list[str]:
        assert isinstance(self.entry.protocol, NetworkProtocolConfig)
        args = ["-m", "kenning.scenarios.inference_server", "network", runtime,
                "--host", bind, "--port", str(self.entry.protocol.port),
                "--save-model-path", posixpath.join(folder, f"model.{suffix}")]  # fmt: skip
        if self.entry.delegates and runtime == "tflite":
            args += ["--delegates-list", *self.entry.delegates]
        return [*args, *self.entry.runtime_args.get(runtime, []), *extra]

    @contextmanager
    def serve(
        self, runtime: str, suffix: str, folder: Path, args: Sequence[str] = ()
    ) -> Iterator[Endpoint]:
        """Deploy, start ``inference_server`` with ``runtime``, yield where to reach it.

        Raises
        ------
        BoardError
            Naming the board and the step (connecting, pushing, starting the server, ...).
        """
        if runtime not in self.runtimes:
            raise BoardError(self.name, "choosing the runtime",
                             f"the board offers {', '.join(self.runtimes)}, not {runtime}; "
                             "edit its `runtimes:` in inventory.yaml if it has it")  # fmt: skip
        protocol = self.entry.protocol
        assert isinstance(protocol, NetworkProtocolConfig)
        remote = posixpath.join(self.entry.workdir, folder.name)
        log_name = posixpath.join(remote, "server.log")
        folder.mkdir(parents=True, exist_ok=True)
        bind = "127.0.0.1" if protocol.tunnel == "always" else "0.0.0.0"
        with ExitStack() as stack:
            board = stack.enter_context(self.connect())
            board.output(f"mkdir -p {shlex.quote(remote)}", "preparing the work folder")
            process = self._start(board, runtime, suffix, remote, log_name, bind, args)
            stack.callback(self._fetch_log, board, log_name, folder / "server.log")
            stack.callback(_stop, self.name, process)
            board.wait_for_port(protocol.port, process=process, timeout=STARTUP_TIMEOUT_S)
            yield self._endpoint(board, stack, protocol)

    def _start(self, board: Any, runtime: str, suffix: str, remote: str, log_name: str,
               bind: str, extra: Sequence[str] = ()) -> Any:  # fmt: skip
        args = self._server_args(runtime, suffix, remote, bind, extra)
        if self.entry.deploy == "image":
            tag = image_tag(f"target-{self.arch}")
            push_image(board, tag)
            name = f"kenning-server-{os.getpid()}"
            command = ["docker", "run", "--rm", "--init", "--name", name, "--network", "host",
                       "-v", f"{remote}:{remote}", tag, "python", *args]  # fmt: skip
            return board.start_background(command, log_name)
        package = server_zip(self.cache)
        target = posixpath.join(self.entry.workdir, package.name)
        push_once(board, package, target)
        return board.start_background(["python", *args], log_name, env={"PYTHONPATH": target})

    def _endpoint(self, board: Any, stack: ExitStack, protocol: NetworkProtocolConfig) -> Endpoint:
        host = str(self.entry.host)
        if protocol.tunnel == "never" or (
            protocol.tunnel == "auto" and _reachable(host, protocol.port)
        ):
            return Endpoint(host, protocol.port)
        local = stack.enter_context(board.forward(protocol.port))
        log.info("board %s: port %d tunnelled through SSH to 127.0.0.1:%d",
                 self.name, protocol.port, local)  # fmt: skip
        return Endpoint("127.0.0.1", local)

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


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

"""Opening an SSH connection to a board, and the one place where paramiko errors are converted.

Host keys are checked against a known_hosts file; an unknown key is refused unless the caller
trusts it explicitly (``trust_unknown_host``, the ``--trust-host-key`` flag), and then it is
appended to that file. Only keys authenticate (a key file, else the ssh-agent's keys and the
unencrypted ``~/.ssh/id_*``), never a password, not even as a second factor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kenning.executors.boarderrors import (
    AuthenticationRefusedError,
    BoardError,
    BoardUnreachableError,
    HostKeyError,
)
from kenning.executors.ssh.target import KEEPALIVE_S, TRUST_FLAG, SSHTarget
from kenning.utils.errors import KenningError, MissingDependencyError

try:
    import paramiko
except ImportError as exc:  # pragma: no cover - the ssh extra is missing
    raise MissingDependencyError("paramiko", "ssh") from exc

log = logging.getLogger("kenning.executors.ssh.executor")


def _not_channel_failure(record: logging.LogRecord) -> bool:
    # paramiko logs each refused direct-tcpip channel as an ERROR; waiting for a port polls
    # with them, and every failure that matters becomes a kenning error anyway.
    return "open FAILED" not in record.getMessage()


logging.getLogger("paramiko.transport").addFilter(_not_channel_failure)


def connect(target: SSHTarget) -> Any:
    """Return a connected, authenticated ``paramiko.SSHClient``.

    Raises
    ------
    HostKeyError
        If the host key is unknown (and not trusted) or has changed.
    AuthenticationRefusedError
        If the keys are refused, cannot be read, or the board wants a password too.
    BoardUnreachableError
        If the board cannot be reached.
    """
    client = paramiko.SSHClient()
    trust = target.trust_unknown_host
    client.set_missing_host_key_policy(_TrustAndRecord(target.known_hosts) if trust else _Refuse())
    strategy = _KeysOnly(target)
    try:
        with ssh_errors(target, "connecting"):
            if target.known_hosts.is_file():
                client.load_host_keys(str(target.known_hosts))
            client.connect(
                target.host,
                port=target.port,
                username=target.user,
                timeout=target.connect_timeout,
                banner_timeout=target.connect_timeout,
                auth_timeout=target.connect_timeout,
                channel_timeout=target.connect_timeout,
                auth_strategy=strategy,
            )
            transport = client.get_transport()
            if not transport.is_authenticated():
                raise paramiko.AuthenticationException(
                    "the board asks for a password or a second factor after the key; "
                    "kenning logs in with keys only"
                )
            transport.set_keepalive(KEEPALIVE_S)
    except BaseException:
        client.close()
        raise
    finally:
        strategy.close()
    return client


@contextmanager
def ssh_errors(target: SSHTarget, step: str, client: Any = None) -> Iterator[None]:
    """Convert paramiko and socket exceptions raised inside the block.

    Parameters
    ----------
    target : SSHTarget
        The board, for messages.
    step : str
        What the block does (``"connecting"``, ``"pushing model.tflite"``).
    client : paramiko.SSHClient, optional
        The connection, to tell a lost connection from another failure.

    Raises
    ------
    HostKeyError
        For an unknown host key (not trusted) or a changed one.
    AuthenticationRefusedError
        When the board refuses our keys or a key cannot be loaded.
    BoardUnreachableError
        When the host is not resolved, refuses or times out, or the connection is lost.
    BoardError
        For any other SSH or I/O failure.
    """
    board = target.board
    try:
        yield
    except KenningError:
        raise
    except _UnknownHostKey as exc:
        hint = (
            f"if you trust it (compare with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on "
            f"the board), pass {TRUST_FLAG}, or record it with: ssh-keyscan -p {target.port} "
            f"{target.host} >> {target.known_hosts}"
        )
        known = str(target.known_hosts)
        raise HostKeyError(board, step, exc.entry, known, _print(exc.key), False, hint) from exc
    except paramiko.BadHostKeyException as exc:
        lines = ", ".join(map(str, known_hosts_lines(target.known_hosts, target.entry)))
        where = f"{target.known_hosts} line {lines}" if lines else str(target.known_hosts)
        hint = (
            f"if the board was reinstalled, remove the old entry ({where}) with: "
            f"ssh-keygen -R '{target.entry}' -f {target.known_hosts}, then connect with "
            f"{TRUST_FLAG}"
        )
        known = str(target.known_hosts)
        raise HostKeyError(board, step, target.entry, known, _print(exc.key), True, hint) from exc
    except paramiko.AuthenticationException as exc:
        if isinstance(exc, paramiko.PasswordRequiredException):
            detail = "the key is encrypted: load it into the ssh-agent (ssh-add) and omit the key"
        elif isinstance(exc, paramiko.auth_strategy.AuthFailure):
            tried = ", ".join(_print(attempt.source.pkey) for attempt in exc.result)
            detail = (
                f"it refused {tried}; is the public key in ~{target.user}/.ssh/authorized_keys "
                "on the board?"
            )
        else:
            detail = str(exc).strip() or "authentication failed"
        raise AuthenticationRefusedError(
            board, step, target.user, target.key_text, detail
        ) from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise _failure(target, step, client, exc) from exc


def _failure(target: SSHTarget, step: str, client: Any, exc: BaseException) -> BoardError:
    board, address = target.board, target.address
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and type(exc).__name__ == "gaierror":
        return BoardUnreachableError(board, step, f"cannot resolve '{target.host}': {text}")
    if isinstance(exc, TimeoutError):
        detail = f"no answer from {address} within {target.connect_timeout:g} s"
        return BoardUnreachableError(board, step, detail)
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError | ConnectionError):
        causes = getattr(exc, "errors", {}).values() or [exc]
        reasons = ", ".join(sorted({cause.strerror or str(cause) for cause in causes}))
        hint = " (is sshd running there, is the port right?)" if "refused" in reasons else ""
        return BoardUnreachableError(board, step, f"cannot connect to {address}: {reasons}{hint}")
    transport = client.get_transport() if client is not None else None
    if transport is None or not transport.is_active():
        lost = "SSH failed" if step == "connecting" else "the SSH connection was lost"
        return BoardUnreachableError(board, step, f"{lost} ({address}): {text}")
    return BoardError(board, step, f"{type(exc).__name__}: {text}")


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, entry: str, key: Any) -> None:
        super().__init__(f"no known host key for {entry}")
        self.entry = entry
        self.key = key


class _Refuse(paramiko.MissingHostKeyPolicy):
    """paramiko's RejectPolicy, keeping the key for the message."""

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise _UnknownHostKey(hostname, key)


class _TrustAndRecord(paramiko.MissingHostKeyPolicy):
    """Accept an unknown key and append it to the known_hosts file (never rewritten)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = self.path.read_bytes() if self.path.exists() else b""
        lead = "\n" if text and not text.endswith(b"\n") else ""
        with self.path.open("a") as stream:
            stream.write(f"{lead}{hostname} {key.get_name()} {key.get_base64()}\n")
        log.warning(
            "trusted the host key of %s (%s), recorded in %s", hostname, _print(key), self.path
        )


class _KeysOnly(paramiko.AuthStrategy):
    """Offer the key file, else the agent's keys and ``~/.ssh/id_*``; never a password.

    Keys are read when the server asks (after the host key check), so an unreachable board is
    reported as such rather than as a key problem.
    """

    def __init__(self, target: SSHTarget) -> None:
        super().__init__(ssh_config=paramiko.SSHConfig())
        self.target = target
        self.agent: Any = None

    def get_sources(self) -> Iterator[Any]:
        user = self.target.user
        if self.target.key_filename is not None:
            yield paramiko.auth_strategy.InMemoryPrivateKey(user, _read_key(self.target))
            return
        self.agent = paramiko.Agent()
        keys = [*self.agent.get_keys(), *_default_keys()]
        if not keys:
            raise paramiko.AuthenticationException("there is no key to offer")
        for key in keys:
            yield paramiko.auth_strategy.InMemoryPrivateKey(user, key)

    def close(self) -> None:
        if self.agent is not None:
            self.agent.close()


def _print(key: Any) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def _load_key(path: Path) -> Any:
    try:
        return paramiko.PKey.from_path(path)
    except TypeError as exc:  # cryptography's word for an encrypted OpenSSH-format key
        raise paramiko.PasswordRequiredException(str(exc)) from exc


def _read_key(target: SSHTarget) -> Any:
    assert target.key_filename is not None
    try:
        return _load_key(target.key_filename)
    except paramiko.PasswordRequiredException:
        raise  # ssh_errors explains what to do
    except (OSError, paramiko.SSHException, ValueError) as exc:
        detail = f"cannot read it as a private key ({getattr(exc, 'strerror', None) or exc})"
        raise AuthenticationRefusedError(
            target.board, "connecting", target.user, target.key_text, detail
        ) from exc


def _default_keys() -> list[Any]:
    """The unencrypted ``~/.ssh/id_*`` keys (encrypted ones are used through the agent)."""
    keys = []
    for name in ("id_ed25519", "id_ecdsa", "id_rsa"):
        path = Path.home() / ".ssh" / name
        if path.is_file():
            try:
                keys.append(_load_key(path))
            except (paramiko.SSHException, OSError, ValueError) as exc:
                log.debug("skipping %s: %s", path, exc)
    return keys


def known_hosts_lines(path: Path, entry: str) -> list[int]:
    """Line numbers of ``path`` that name ``entry`` (hashed names included)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#"):
            continue
        names = fields[1] if fields[0].startswith("@") else fields[0]
        for name in names.split(","):
            hashed = name.startswith("|1|") and paramiko.HostKeys.hash_host(entry, name) == name
            if name == entry or hashed:
                found.append(number)
                break
    return found

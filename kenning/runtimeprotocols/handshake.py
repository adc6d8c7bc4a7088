"""The handshake every session starts with: host and target prove they hold the run's secret.

Whoever starts a server for a run makes a fresh secret and hands it to the server and to the
host outside the protocol (over SSH, in a file only its owner reads); it never appears on a
command line. Then, before anything else, on every connection (see ``docs/protocol.md``)::

    host -> HELLO  client nonce (32 random bytes)
    target -> HELLO  server nonce (32 random bytes), frame suite (1 byte)
    host -> AUTH   HMAC-SHA256(secret, b"kenning host v3" + server nonce + client nonce + suite)
    target -> OK   HMAC-SHA256(secret, b"kenning target v3" + client nonce + server nonce + suite)

The target's nonce makes a recorded AUTH useless on the next connection; the host's makes
the target's proof fresh, so a host never sends its model to a server that does not know the
secret (another program on the port). A wrong proof gets ``ERROR`` and the connection ends.
Both proofs cover the suite with which every later frame is tagged
(:mod:`kenning.runtimeprotocols.frameauth`), so nobody on the path can change it.
A server started without a secret uses the empty one: the exchange is the same, and proves
nothing, which is why such a server may only listen on loopback.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path

from kenning.utils.errors import ConfigurationError

NONCE_SIZE = 32
PROOF_SIZE = 32
#: the fewest secret bytes a secret file may hold
MIN_SECRET_BYTES = 16
_HOST = b"kenning host v3"
_TARGET = b"kenning target v3"


def nonce() -> bytes:
    """A fresh random nonce."""
    return os.urandom(NONCE_SIZE)


def host_proof(secret: bytes, server_nonce: bytes, client_nonce: bytes, suite: int) -> bytes:
    """What the host sends in AUTH."""
    return hmac.new(secret, _HOST + server_nonce + client_nonce + bytes([suite]), sha256).digest()


def target_proof(secret: bytes, client_nonce: bytes, server_nonce: bytes, suite: int) -> bytes:
    """What the target answers a correct AUTH with."""
    message = _TARGET + client_nonce + server_nonce + bytes([suite])
    return hmac.new(secret, message, sha256).digest()


def same(a: bytes | bytearray | memoryview, b: bytes) -> bool:
    """Compare two proofs in constant time."""
    return hmac.compare_digest(bytes(a), b)


def read_secret(path: str | Path | None) -> bytes:
    """The secret named by ``--secret-file``: ``None`` for none, ``-`` for one line of stdin.

    Raises
    ------
    ConfigurationError
        If the file is missing, readable by other users, or holds too short a secret.
    """
    if path is None or str(path) == "":
        return b""
    if str(path) == "-":
        text = sys.stdin.readline()
        where = "the line read from stdin (--secret-file -)"
    else:
        file = Path(path)
        try:
            mode = file.stat().st_mode
            text = file.read_text()
        except OSError as exc:
            raise ConfigurationError(
                f"--secret-file {file}: cannot read it ({exc.strerror})"
            ) from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"--secret-file {file} can be read by other users (mode "
                f"{stat.S_IMODE(mode):04o}); run `chmod 600 {file}`"
            )
        where = f"--secret-file {file}"
    secret = text.strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{where} holds {len(secret)} bytes of secret, fewer than {MIN_SECRET_BYTES}; "
            "write a fresh one with `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return secret


def new_secret() -> str:
    """A fresh secret: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


@contextmanager
def run_secret(folder: Path) -> Iterator[tuple[str, Path]]:
    """A fresh secret for one run and a private file holding it, removed afterwards.

    The file is made by :func:`tempfile.mkstemp` in ``folder`` (mode 0600, a new name, never
    an existing file or link), so a host's tester can read it with ``--secret-file``.

    Yields
    ------
    tuple
        The secret (64 hex characters) and the file's path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    secret = new_secret()
    fd, name = tempfile.mkstemp(dir=folder, prefix=".secret-")
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secret + "\n")
        yield secret, path
    finally:
        path.unlink(missing_ok=True)

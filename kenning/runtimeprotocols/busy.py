"""While a server serves one host, every other host that connects is told so at once.

A second host used to wait in the listen backlog, silently, until its own ``--timeout``
ran out. :class:`BusyResponder` accepts such connections on the listening socket in a
thread while a session runs, answers each with one ``ERROR`` frame (``busy: serving HOST
since T``) and closes it; the server's own session is not disturbed.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable

from kenning.runtimeprotocols.wire import MessageType, encode_frames

log = logging.getLogger("kenning.server")

#: seconds a refused host gets to read its ERROR before the connection closes
_LINGER_S = 1.0
#: seconds between checks of whether the session ended
_POLL_S = 0.1


class BusyResponder:
    """Answer connections on ``listener`` with ``ERROR <reason()>`` until stopped.

    Parameters
    ----------
    listener : socket.socket
        The server's listening socket (its owner does not accept while this runs).
    reason : callable
        Returns the text of the ERROR.
    """

    def __init__(self, listener: socket.socket, reason: Callable[[], str]) -> None:
        self.listener = listener
        self.reason = reason
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="busy-responder", daemon=True)

    def __enter__(self) -> BusyResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=_LINGER_S + 2 * _POLL_S + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.listener], [], [], _POLL_S)
            except (OSError, ValueError):  # the listener closed under us
                return
            if not ready or self._stop.is_set():
                continue
            try:
                self.listener.settimeout(0)
                sock, peer = self.listener.accept()
            except OSError:
                continue
            self._refuse(sock, f"{peer[0]}:{peer[1]}")

    def _refuse(self, sock: socket.socket, peer: str) -> None:
        text = self.reason()
        self.refused += 1
        log.info("refused %s: %s", peer, text)
        try:
            sock.settimeout(_LINGER_S)
            for part in encode_frames(MessageType.ERROR, text.encode()):
                sock.sendall(part)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):  # let the peer read the reply before the close resets it
                pass
        except OSError:
            pass
        finally:
            sock.close()

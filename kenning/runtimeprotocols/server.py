"""The target side of a session: answer the host's requests with a runtime.

One host at a time is served, and only one that proves it holds the run's secret
within ``handshake_timeout`` seconds (:mod:`kenning.runtimeprotocols.handshake`; on TCP
in the :mod:`~kenning.runtimeprotocols.lobby`, several at once, so none holds the server
before it has); any other host that proves it meanwhile is told ``busy`` at once. When
the host leaves, breaks a frame, misses a message's deadline or goes quiet for
``idle_timeout`` seconds, the server drops it and waits for the next. No request, however
malformed, no model, however broken, and no disk fault stops the server: each gets an
``ERROR`` reply naming what was wrong (when the connection still allows a reply). Each model
runs in a process of its own (:mod:`~kenning.runtimeprotocols.modelworker`), so one that
crashes is an ``ERROR`` naming the signal too; what a request does to the model is
:mod:`~kenning.runtimeprotocols.requests`. See ``docs/protocol.md`` for the message flow.
"""

from __future__ import annotations

import logging
import threading
import time

from kenning.core.runtime import Runtime
from kenning.runtimeprotocols.errors import (
    AuthenticationError,
    ConnectionClosedError,
    DeadlineError,
    FrameError,
    ProtocolTimeoutError,
)
from kenning.runtimeprotocols.frameauth import choose_suite
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.gate import LIMITS, Gate
from kenning.runtimeprotocols.modelinline import InlineModel
from kenning.runtimeprotocols.modelworker import ModelWorker
from kenning.runtimeprotocols.requests import ModelRequests, RequestError
from kenning.runtimeprotocols.store import check_destination
from kenning.runtimeprotocols.wire import Message, MessageType, type_name
from kenning.utils.errors import ProtocolError, error_text

log = logging.getLogger("kenning.server")


class _IdleError(ProtocolError):
    """The host sent nothing for ``--idle-timeout`` seconds; it is told so, then dropped."""


class InferenceServer:
    """Serve inference requests on a protocol with a runtime.

    Parameters
    ----------
    protocol : FramedProtocol
        The transport, not yet initialised.
    runtime : Runtime
        Loads and runs the models the host sends.
    idle_timeout : float or None
        Seconds a connected host may stay silent between requests.
    monitor_interval : float
        Seconds between CPU/RAM samples reported by STATS.
    handshake_timeout : float
        Seconds a host has from connecting (on a serial line: from its HELLO) to prove it
        holds the secret.
    frame_auth : str
        How frames after the handshake are authenticated (``frameauth.CHOICES``): ``auto``
        (AES-256-GCM, or HMAC-SHA256 without the ``cryptography`` package), a suite by name,
        or ``none``, which only a server listening on loopback may choose.
    model_process : bool
        Run each model in a process of its own (a crash is an ERROR to the host); ``False``
        runs it in the server's process (a crash stops the server).

    Raises
    ------
    ConfigurationError
        If the model's destination is a folder, the secret cannot be read, or ``none`` is
        asked for on a line others may reach.
    """

    def __init__(
        self,
        protocol: FramedProtocol,
        runtime: Runtime,
        idle_timeout: float | None = 600.0,
        monitor_interval: float = 0.2,
        handshake_timeout: float = 10.0,
        frame_auth: str = "auto",
        model_process: bool = True,
    ) -> None:
        check_destination(runtime.save_model_path)
        protocol.frame_suite = choose_suite(
            frame_auth, protocol.private_line(), protocol.describe()
        )
        self.protocol = protocol
        self.runtime = runtime
        self.idle_timeout = idle_timeout
        self.handshake_timeout = handshake_timeout
        # before listening: a bad secret file fails now
        self.gate = Gate(protocol.secret, protocol.frame_suite)
        protocol.handshake_timeout = handshake_timeout
        protocol.reader.limits = LIMITS
        self.stop_event = threading.Event()
        self.clients_served = 0
        self._heard = False
        model = ModelWorker(runtime, protocol.timeout) if model_process else InlineModel(runtime)
        #: what the host's requests do to its model
        self.requests = ModelRequests(protocol, model, monitor_interval)
        #: inference times and the load series reported by STATS
        self.load = self.requests.load

    # -- loop --------------------------------------------------------------------
    def serve(
        self, max_clients: int | None = None, poll: float = 0.5, initialize: bool = True
    ) -> None:
        """Serve hosts until :attr:`stop_event` is set, then close the transport.

        Parameters
        ----------
        max_clients : int, optional
            Return after serving this many hosts.
        poll : float
            Seconds between checks of :attr:`stop_event` while no host is connected.
        initialize : bool
            Open the transport first; ``False`` when the caller already did.

        Raises
        ------
        TransportError
            If the transport cannot be opened.
        """
        if initialize:
            self.protocol.initialize_server()
        self.load.start()
        self.requests.model.prepare()  # the first model's process starts before its host
        try:
            while not self.stop_event.is_set():
                if max_clients is not None and self.clients_served >= max_clients:
                    return
                try:
                    peer = self.protocol.accept_client(poll)
                except ProtocolTimeoutError:
                    continue
                self.serve_client(peer)
        finally:
            self.requests.forget()
            self.requests.model.close()
            self.load.stop()
            self.protocol.close()

    def serve_client(self, peer: str) -> None:
        """Answer one host's requests until it leaves or must be dropped."""
        log.info("host connected: %s", peer)
        self.clients_served += 1
        self._heard = self.protocol.has_connections  # on a line: once a frame came
        protocol = self.protocol
        self.gate.reset()  # every host proves the secret, on a line too (it starts at HELLO)
        if protocol.has_connections:
            self.requests.forget()  # each host sends its own model
            if protocol.authenticated:  # it proved the secret before it took the slot
                self.gate.admit()
                protocol.start_tagging(protocol.frame_suite, protocol.handed_keys, "target")
            else:
                self.gate.start(protocol, self.handshake_timeout)
        self._watch_host(self.load.new_host())
        since = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        reason = "host disconnected"
        try:
            with protocol.busy(lambda: f"busy: serving {peer} since {since}"):
                reason = self._serve_requests(peer)
        except (DeadlineError, AuthenticationError, _IdleError) as exc:
            reason = f"dropped: {exc}"
            if not protocol.has_connections:  # drained before the refusal, never after it:
                protocol.resync()  # the host's next frame (sent on reading it) survives
            self._reply_error(str(exc))
        except ConnectionClosedError as exc:
            reason = f"host disconnected ({exc})" if exc.mid_frame else reason
        except ProtocolError as exc:  # a timeout, a broken transport
            reason = f"dropped: {exc}"
        finally:
            protocol.reader.deadline = None
            protocol.disconnect()
        log.info("%s: %s", peer, reason)
        if protocol.has_connections:  # the next host sends its own model: start its process
            self.requests.forget()
            self.requests.model.prepare()

    def _watch_host(self, host: int) -> None:
        """Find the host's process (on loopback: its CPU is the run's own) off its path.

        Finding it reads every process's sockets (milliseconds): a thread does it while the
        session goes on, rather than the host's first request waiting for it.
        """
        find = self.protocol.peer_process

        def watch() -> None:
            pid = find()
            if pid:
                self.load.watch(pid, host)

        threading.Thread(target=watch, name="kenning-peer-lookup", daemon=True).start()

    def _serve_requests(self, peer: str) -> str:
        while not self.stop_event.is_set():
            try:
                self._handle_one()
            except FrameError as exc:
                log.warning("bad frame from %s: %s", peer, exc)
                if exc.in_sync:
                    self._reply_error(str(exc))
                elif self.protocol.has_connections:
                    self._reply_error(str(exc))
                    self.protocol.resync()
                    return f"dropped after a bad frame ({exc.kind})"
                else:  # a line is drained until quiet first: the host's next frame survives
                    self.protocol.resync()
                    self._reply_error(str(exc))
        return "server stopping"

    def _reply_error(self, reason: str) -> None:
        try:
            self.protocol.send_message(MessageType.ERROR, reason.encode())
        except ProtocolError as exc:
            log.debug("could not send ERROR: %s", exc)

    def _handle_one(self) -> None:
        protocol, gate = self.protocol, self.gate
        try:
            header = protocol.reader.read_header(protocol.timeout, self.idle_timeout)
        except DeadlineError:
            raise
        except ProtocolTimeoutError as exc:  # nothing of a frame arrived: the host idles
            if not self._heard:  # a quiet line: nobody to tell
                raise
            raise _IdleError(f"idle for {self.idle_timeout:g} s: closing") from exc
        self._heard = True
        if header.type in (MessageType.HELLO, MessageType.AUTH):
            gate.answer(protocol, header, self.handshake_timeout)
            return
        if not gate.open:
            raise gate.refuse(type_name(header.type))
        if header.type == MessageType.MODEL:
            self.requests.receive_model(header)
            return
        into = None
        try:
            into = self.requests.input_view(header)  # an input goes straight to the model
            message = protocol.reader.read_body(header, protocol.timeout, into)
            reply, failure = self._dispatch(message)
        except MemoryError:
            raise FrameError("oversized", f"no memory for {header.message_length} bytes") from None
        finally:
            if into is not None:
                into.release()  # the model's memory may be resized or closed from now on
        if failure is not None:
            self.requests.check_model()
            protocol.send_message(MessageType.ERROR, failure.encode())
            return
        protocol.send_message(MessageType.OK, reply)

    def _dispatch(self, message: Message) -> tuple[bytes, str | None]:
        """The OK payload of a request, or what to say in an ERROR when it failed."""
        try:
            return self.requests.dispatch(message.type, message.payload), None
        except ProtocolError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken model or input must not end the server
            text = error_text(exc)
            if isinstance(exc, MemoryError):
                text = f"out of memory handling a {len(message.payload)}-byte {message.type.name}"
            if not isinstance(exc, RequestError):
                log.warning("%s failed: %s", message.type.name, text)
            return b"", text

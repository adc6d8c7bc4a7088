"""The connection under :class:`~kenning.farm.session.FarmSession`: a loop thread, the stream.

The gRPC channel, the client stream (whose first message names the client) and every call
live on an asyncio loop in a daemon thread; callers wait on futures with what remains of
their deadline. :meth:`CoordinatorChannel.call` is where gRPC's errors become kenning's.
labgrid and grpc are imported when a session opens (``kenning[farm]``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import getpass
import itertools
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from kenning.farm.errors import CoordinatorError, FarmError, FarmTimeoutError
from kenning.utils.imports import require

T = TypeVar("T")
#: labgrid's default coordinator port
DEFAULT_PORT = 20408
#: keep-alive as ``labgrid-client`` sets it (a dead coordinator is noticed within seconds)
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 7500),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.http2.ping_timeout_ms", 10000),
    ("grpc.http2.max_pings_without_data", 0),
    # a connection of its own: the coordinator tells clients apart by their peer address, and
    # two sessions in one process would otherwise share one connection
    ("grpc.use_local_subchannel_pool", 1),
]


class _StreamClosedError(Exception):
    """The coordinator ended the client stream."""


def coordinator_address(text: str | None) -> str:
    """``HOST:PORT`` of the coordinator: ``text``, else ``$LG_COORDINATOR``; port 20408 by default.

    Raises
    ------
    FarmError
        If neither names one.
    """
    text = (text or os.environ.get("LG_COORDINATOR", "")).strip()
    if not text:
        raise FarmError("no coordinator given: pass HOST:PORT or set LG_COORDINATOR")
    return text if urlsplit(f"//{text}").port is not None else f"{text}:{DEFAULT_PORT}"


def default_identity(user: str | None = None, host: str | None = None) -> str:
    """``host/user`` as labgrid names clients (``$LG_HOSTNAME``/``$LG_USERNAME`` win)."""
    host = host or os.environ.get("LG_HOSTNAME") or socket.gethostname()
    user = user or os.environ.get("LG_USERNAME") or getpass.getuser()
    return f"{host}/{user}"


class CoordinatorChannel:
    """A connection to a labgrid coordinator under one client name (calls: ``FarmSession``).

    Parameters
    ----------
    coordinator : str, optional
        ``HOST[:PORT]``; default ``$LG_COORDINATOR``.
    user, host : str, optional
        The client name's parts (default: labgrid's, see :func:`default_identity`).
    timeout : float
        Seconds one call may take when the caller gives no deadline.
    """

    def __init__(
        self,
        coordinator: str | None = None,
        *,
        user: str | None = None,
        host: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.coordinator = coordinator_address(coordinator)
        self.identity = default_identity(user, host)
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._syncs: dict[int, asyncio.Future[None]] = {}
        self._sync_ids = itertools.count(1)
        self._resources: dict[str, bool] = {}
        self._subscribed = False

    # -- lifetime ----------------------------------------------------------------------
    def open(self, deadline: float | None = None) -> CoordinatorChannel:
        """Connect and announce this client's name; return self.

        Raises
        ------
        CoordinatorError
            If the coordinator cannot be reached.
        FarmTimeoutError
            If it does not answer by ``deadline`` (``time.monotonic()``).
        MissingDependencyError
            If labgrid is not installed (``kenning[farm]``).
        """
        self._grpc = require("grpc", "farm")
        self._pb2 = require("labgrid.remote.generated.labgrid_coordinator_pb2", "farm")
        self._pb2_grpc = require("labgrid.remote.generated.labgrid_coordinator_pb2_grpc", "farm")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"farm-{self.coordinator}", daemon=True
        )
        self._thread.start()
        try:
            self.call("connect", lambda _: self._start(), deadline)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close the stream and the channel (the coordinator forgets this client)."""
        loop, self._loop = self._loop, None
        if loop is None or self._thread is None:
            return
        stopped = asyncio.run_coroutine_threadsafe(self._stop(), loop)
        try:
            stopped.result(5.0)
        except Exception:  # noqa: BLE001 - closing: nothing more to do with the channel
            stopped.cancel()
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            loop.close()

    def __enter__(self) -> Self:
        if self._loop is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one place calls are made and their errors converted -----------------------
    def call(
        self, operation: str, make: Callable[[Any], Awaitable[T]], deadline: float | None = None
    ) -> T:
        """Run ``make(stub)`` on the session's loop and wait for it until ``deadline``.

        ``deadline`` is absolute (``time.monotonic()``); the call gets what remains of it,
        at most :attr:`timeout`.

        Raises
        ------
        CoordinatorError
            If the coordinator refuses or cannot be reached (gRPC status and details).
        FarmTimeoutError
            If the call does not complete in time.
        """
        if self._loop is None:
            raise FarmError(f"{operation}: the session to {self.coordinator} is not open")
        limit = (
            self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
        )
        if limit <= 0:
            raise FarmTimeoutError(self.coordinator, operation, 0.0, "no time left")

        async def run() -> T:
            return await asyncio.wait_for(make(getattr(self, "_stub", None)), limit)

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            return future.result(limit + 1.0)
        except self._grpc.aio.AioRpcError as exc:
            code, details = exc.code().name, exc.details() or ""
            raise CoordinatorError(self.coordinator, operation, code, details) from exc
        except _StreamClosedError as exc:
            raise CoordinatorError(self.coordinator, operation, "CLOSED", str(exc)) from exc
        except (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError) as exc:
            future.cancel()
            raise FarmTimeoutError(self.coordinator, operation, limit) from exc
        except BaseException:
            future.cancel()
            raise

    # -- the stream (runs on the loop) -------------------------------------------------
    async def _start(self) -> None:
        from labgrid.util import labgrid_version

        self._channel = self._grpc.aio.insecure_channel(self.coordinator, options=_CHANNEL_OPTIONS)
        self._stub = self._pb2_grpc.CoordinatorStub(self._channel)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._send(startup=self._pb2.StartupDone(version=labgrid_version(), name=self.identity))
        self._stream = self._stub.ClientStream(self._outgoing())
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self._sync()

    def _send(self, **kind: Any) -> None:
        self._queue.put_nowait(self._pb2.ClientInMessage(**kind))

    async def _outgoing(self) -> Any:
        while (message := await self._queue.get()) is not None:
            yield message

    async def _sync(self) -> None:
        # the coordinator answers a sync after everything sent before it
        ident = next(self._sync_ids)
        self._syncs[ident] = asyncio.get_running_loop().create_future()
        self._send(sync=self._pb2.Sync(id=ident))
        await self._syncs[ident]

    async def _read(self) -> None:
        failure: BaseException = _StreamClosedError("the coordinator closed the client stream")
        try:
            async for message in self._stream:
                for update in message.updates:
                    self._update(update)
                if message.HasField("sync") and message.sync.id in self._syncs:
                    self._syncs.pop(message.sync.id).set_result(None)
        except self._grpc.aio.AioRpcError as exc:
            failure = exc
        except asyncio.CancelledError:
            failure = _StreamClosedError("the session was closed")
        for waiter in self._syncs.values():
            if not waiter.done():
                waiter.set_exception(failure)
        self._syncs.clear()

    def _update(self, update: Any) -> None:
        kind = update.WhichOneof("kind")
        if kind == "resource":
            path, cls = update.resource.path, update.resource.cls
            key = f"{path.exporter_name}/{path.group_name}/{cls}/{path.resource_name}"
            self._resources[key] = update.resource.avail
        elif kind == "del_resource":
            path = update.del_resource
            prefix = f"{path.exporter_name}/{path.group_name}/"
            for key in [k for k in self._resources if k.startswith(prefix)]:
                if key.endswith(f"/{path.resource_name}"):
                    del self._resources[key]

    async def _stop(self) -> None:
        if not hasattr(self, "_queue"):
            return
        self._queue.put_nowait(None)
        self._stream.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._channel.close()

    def resources(self, deadline: float | None = None) -> dict[str, bool]:
        """``exporter/group/class/name`` -> available, of every exported resource."""

        async def fetch(_: Any) -> None:
            if not self._subscribed:
                self._send(subscribe=self._pb2.Subscribe(all_resources=True))
                self._subscribed = True
            await self._sync()

        self.call("list resources", fetch, deadline)
        return dict(sorted(self._resources.items()))

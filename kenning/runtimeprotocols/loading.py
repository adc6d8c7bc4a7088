"""Storing and loading a received model, and what the host is told.

A model the disk cannot take (:class:`~kenning.runtimeprotocols.store.StorageError`) or the
runtime cannot load (or that crashes the process it loads in) is an ``ERROR`` to its host,
never the end of the server.
"""

from __future__ import annotations

import json
import logging
import time

from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.modelinline import InlineModel
from kenning.runtimeprotocols.modelworker import ModelWorker
from kenning.runtimeprotocols.store import StorageError, store_stream
from kenning.runtimeprotocols.wire import FrameHeader, MessageType
from kenning.utils.errors import error_text

log = logging.getLogger("kenning.server")


def load_received(model: ModelWorker | InlineModel, size: int, sha256: str) -> tuple[bool, bytes]:
    """Load the model ``save_model_path`` holds (in its own process, for a worker).

    Returns
    -------
    tuple
        Whether it loaded, and the reply: the OK's JSON (``runtime``, ``version``,
        ``model_bytes``, ``sha256``, ``load_time_s``, ``peak_rss_after_load_bytes``) or
        the ERROR's text.
    """
    start = time.perf_counter()
    try:
        name, version = model.load(sha256)
    except Exception as exc:  # noqa: BLE001 - any load failure is reported to the host
        text = error_text(exc)
        log.warning("model failed to load: %s", text)
        return False, f"model failed to load: {text}".encode()
    info = {
        "runtime": name,
        "version": version,
        "model_bytes": size,
        "sha256": sha256,
        "load_time_s": time.perf_counter() - start,
        "peak_rss_after_load_bytes": model.peak_rss_bytes(),
    }
    log.info("model of %d bytes loaded with %s %s", size, name, version)
    return True, json.dumps(info).encode()


def receive_model(
    protocol: FramedProtocol, model: ModelWorker | InlineModel, header: FrameHeader
) -> bool:
    """Stream the MODEL that ``header`` starts to disk chunk by chunk, load it, answer the host.

    Returns
    -------
    bool
        Whether a model is loaded now.

    Raises
    ------
    ProtocolError
        If the message cannot be read or the reply sent.
    """
    model.prepare()  # a model's process starts while its model arrives
    chunks = protocol.reader.iter_payload(header, protocol.timeout)
    try:
        sha256, previous = store_stream(
            model.save_model_path, chunks, keep=True, size=header.message_length
        )
    except StorageError as exc:
        for _ in chunks:  # the rest of the message, so the stream stays in sync
            pass
        log.warning("MODEL not stored: %s", exc)
        protocol.send_message(MessageType.ERROR, str(exc).encode())
        return False
    try:
        loaded, reply = load_received(model, header.message_length, sha256)
        protocol.send_message(MessageType.OK if loaded else MessageType.ERROR, reply)
    finally:
        if previous is not None:  # after the reply: freeing a large file is slow
            try:
                previous.unlink()
            except OSError as exc:
                log.warning("could not remove the previous model %s: %s", previous, exc)
    return loaded

"""Loading a received model into the server's runtime, and what the host is told about it."""

from __future__ import annotations

import json
import logging
import time

from kenning.core.monitor import peak_rss_bytes
from kenning.core.runtime import Runtime
from kenning.utils.errors import KenningError

log = logging.getLogger("kenning.server")


def load_received(runtime: Runtime, size: int, sha256: str) -> tuple[bool, bytes]:
    """Load the model the runtime's ``save_model_path`` holds.

    Returns
    -------
    tuple
        Whether it loaded, and the reply: the OK's JSON (``runtime``, ``version``,
        ``model_bytes``, ``sha256``, ``load_time_s``, ``peak_rss_after_load_bytes``) or
        the ERROR's text.
    """
    start = time.perf_counter()
    try:
        runtime.prepare_model(None)
    except Exception as exc:  # noqa: BLE001 - any load failure is reported to the host
        text = str(exc) if isinstance(exc, KenningError) else f"{type(exc).__name__}: {exc}"
        log.warning("model failed to load: %s", text)
        return False, f"model failed to load: {text}".encode()
    name, version = runtime.get_framework_and_version()
    info = {
        "runtime": name,
        "version": version,
        "model_bytes": size,
        "sha256": sha256,
        "load_time_s": time.perf_counter() - start,
        "peak_rss_after_load_bytes": peak_rss_bytes(),
    }
    log.info("model of %d bytes loaded with %s %s", size, name, version)
    return True, json.dumps(info).encode()

"""A received model run inside the server's own process (``--model-in-server``).

The same requests as :class:`~kenning.runtimeprotocols.modelworker.ModelWorker`, without
the process between: a model that crashes takes the server down with it. It exists to
measure what the separate process costs (``bench/protocol_overhead.py``) and for targets
that cannot start a second Python.
"""

from __future__ import annotations

import time
from typing import Any

from kenning.core.monitor import peak_rss_bytes
from kenning.core.runtime import Runtime


class InlineModel:
    """The host's model, loaded by the server's runtime itself.

    Parameters
    ----------
    runtime : Runtime
        The server's runtime.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.loaded = False

    @property
    def save_model_path(self) -> Any:
        return self.runtime.save_model_path

    def prepare(self) -> None:
        """Nothing to start: the model loads in this process."""

    def close(self) -> None:
        """The same as :meth:`stop`."""
        self.stop()

    def load(self, sha256: str) -> tuple[str, str]:
        """Load the model at ``save_model_path``; the runtime's name and version."""
        self.loaded = False
        self.runtime.prepare_model(None)
        self.loaded = True
        return self.runtime.get_framework_and_version()

    def input_view(self, size: int) -> memoryview | None:
        """``None``: the runtime keeps the bytes it is handed, so inputs arrive in new buffers."""
        return None

    def prepare_input(self, data: bytes | bytearray | memoryview) -> None:
        """Hand one batch of inputs to the model."""
        self.runtime.prepare_input(bytes(data))

    def run(self) -> float:
        """Run the model once; the seconds ``Runtime.run`` took."""
        start = time.perf_counter()
        self.runtime.run()
        return time.perf_counter() - start

    def upload_output(self) -> bytes:
        """The outputs of the last :meth:`run`."""
        return self.runtime.upload_output()

    def peak_rss_bytes(self) -> int:
        """The server's peak resident set (the model's is in it)."""
        return peak_rss_bytes()

    def stop(self) -> None:
        """Nothing to stop."""

"""Helpers shared by the protocol benchmarks: a server subprocess and figure printing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, TensorSpec


def float_spec(inputs: int, outputs: int) -> IOSpec:
    """A model of ``inputs`` float32 values in and ``outputs`` out, per sample."""
    return IOSpec(
        inputs=[TensorSpec(name="x", shape=[-1, inputs], dtype="float32")],
        outputs=[TensorSpec(name="y", shape=[-1, outputs], dtype="float32")],
    )


@contextmanager
def server(protocol: str, extra: Sequence[str] = (), runtime: str = "null") -> Iterator[str]:
    """Run ``inference_server`` in a subprocess; yield the endpoint it prints."""
    with tempfile.TemporaryDirectory(prefix="kenning-bench-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "kenning.scenarios.inference_server",
            protocol,
            runtime,
            "--save-model-path",
            str(Path(tmp) / "model.bin"),
            "--verbosity",
            "WARNING",
            *extra,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if not line.startswith("listening on "):
                raise SystemExit(f"server did not start: {line!r}")
            yield line.removeprefix("listening on ")
        finally:
            proc.terminate()
            proc.wait(10)


def micro(values: Any) -> dict[str, float]:
    """p50, p99 and max of seconds, in microseconds."""
    arr = np.asarray(values, dtype=np.float64) * 1e6
    return {
        "p50_us": round(float(np.percentile(arr, 50)), 1),
        "p99_us": round(float(np.percentile(arr, 99)), 1),
        "max_us": round(float(arr.max()), 1),
    }


def emit(figures: dict[str, Any]) -> None:
    """Print the figures one per line, then all of them as the last line (JSON)."""
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))


def run_exchanges(client: Any, data: bytes, count: int) -> dict[str, list[float]]:
    """``count`` full exchanges (DATA, PROCESS, OUTPUT, STATS); per-exchange timings."""
    import time

    exchange, host, target = [], [], []
    for _ in range(count):
        start = time.perf_counter()
        client.upload_input(data)
        host_s, target_s = client.request_processing()
        client.download_output()
        client.download_statistics()
        exchange.append(time.perf_counter() - start)
        host.append(host_s)
        target.append(target_s)
    return {"exchange": exchange, "host": host, "target": target}


@contextmanager
def null_client(input_floats: int, extra: Sequence[str] = ()) -> Iterator[tuple[Any, bytes]]:
    """A connected client of a null-runtime server over TCP, its model sent; and one input."""
    from kenning.runtimeprotocols.client import ProtocolClient
    from kenning.runtimeprotocols.network import NetworkProtocol

    spec = float_spec(input_floats, 10)
    data = np.random.default_rng(0).random(input_floats, dtype=np.float32).tobytes()
    with (
        server("network", ["--port", "0", *extra]) as endpoint,
        tempfile.TemporaryDirectory() as tmp,
    ):
        host, port = endpoint.rsplit(":", 1)
        model = Path(tmp) / "model.bin"
        model.write_bytes(b"\0" * 1024)
        with ProtocolClient(NetworkProtocol(host, int(port))) as client:
            client.upload_io_spec(spec)
            client.upload_model(model)
            yield client, data


def network_session(
    input_floats: int, samples: int, warmup: int
) -> tuple[dict[str, list[float]], float]:
    """Full exchanges with a null-runtime server over TCP: per-exchange timings and wall time."""
    import time

    with null_client(input_floats) as (client, data):
        run_exchanges(client, data, warmup)
        start = time.perf_counter()
        timings = run_exchanges(client, data, samples)
        return timings, time.perf_counter() - start

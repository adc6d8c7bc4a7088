"""Samples per second against the null runtime with the full message flow, on loopback.

Each sample is DATA -> OK, PROCESS -> OK + OK, OUTPUT -> OK + bytes, STATS -> OK + JSON,
with a digits-sized input (8x8 float32, 256 bytes) by default. Goals: >= 5,000 samples/s;
no exchange >= 40 ms in 10,000.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from protocol_common import emit, float_spec, micro, run_exchanges, server

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.network import NetworkProtocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--input-floats", type=int, default=64)
    args = parser.parse_args()
    spec = float_spec(args.input_floats, 10)
    data = np.random.default_rng(0).random(args.input_floats, dtype=np.float32).tobytes()
    with server("network", ["--port", "0"]) as endpoint, tempfile.TemporaryDirectory() as tmp:
        host, port = endpoint.rsplit(":", 1)
        model = Path(tmp) / "model.bin"
        model.write_bytes(b"\0" * 1024)
        with ProtocolClient(NetworkProtocol(host, int(port))) as client:
            client.upload_io_spec(spec)
            client.upload_model(model)
            run_exchanges(client, data, 500)  # warm-up
            start = time.perf_counter()
            t = run_exchanges(client, data, args.samples)
            elapsed = time.perf_counter() - start
    exchange = np.asarray(t["exchange"])
    emit(
        {
            "input_bytes": len(data),
            "samples": args.samples,
            "samples_per_s": round(args.samples / elapsed, 1),
            "exchange": micro(exchange),
            "exchanges_over_40ms": int(np.sum(exchange >= 0.040)),
            "cpu_count": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()

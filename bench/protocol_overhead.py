"""Protocol overhead on loopback: host-observed minus on-target time, 150 KB float32 input.

Runs ``inference_server network null`` in a subprocess and drives full exchanges
(DATA, PROCESS, OUTPUT, STATS) with the ProtocolClient. Goals: overhead p50 <= 100 us,
p99 <= 250 us; no exchange >= 40 ms in 10,000.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--input-floats", type=int, default=38_400, help="150 KB of float32")
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
            run_exchanges(client, data, 200)  # warm-up
            start = time.perf_counter()
            t = run_exchanges(client, data, args.samples)
            elapsed = time.perf_counter() - start
    overhead = np.asarray(t["host"]) - np.asarray(t["target"])
    exchange = np.asarray(t["exchange"])
    emit(
        {
            "input_bytes": len(data),
            "samples": args.samples,
            "overhead": micro(overhead),
            "overhead_negative_fraction": round(float(np.mean(overhead < 0)), 4),
            "host_observed": micro(t["host"]),
            "on_target": micro(t["target"]),
            "exchange": micro(exchange),
            "exchanges_over_40ms": int(np.sum(exchange >= 0.040)),
            "samples_per_s": round(args.samples / elapsed, 1),
            "cpu_count": __import__("os").cpu_count(),
        }
    )


if __name__ == "__main__":
    main()

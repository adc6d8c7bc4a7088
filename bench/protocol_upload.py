"""Model upload throughput on loopback: MODEL streamed in --packet-size chunks, to OK.

The timer runs from the first MODEL frame to the target's OK, so it includes the
target writing the file and the (null) runtime loading it. Goal: >= 300 MB/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from protocol_common import emit, float_spec, server

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.network import NetworkProtocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--packet-size", type=int, default=1 << 16)
    args = parser.parse_args()
    size = args.size_mib << 20
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.bin"
        with open(model, "wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(1 << 20))
        with server("network", ["--port", "0", "--max-payload-size", str(size + 1)]) as endpoint:
            host, port = endpoint.rsplit(":", 1)
            protocol = NetworkProtocol(host, int(port), packet_size=args.packet_size)
            with ProtocolClient(protocol) as client:
                client.upload_io_spec(float_spec(64, 10))
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    info = client.upload_model(model)
                    rates.append(size / (time.perf_counter() - start) / 1e6)
                    assert info["model_bytes"] == size
    emit(
        {
            "model_bytes": size,
            "packet_size": args.packet_size,
            "upload_MB_per_s": [round(r, 1) for r in rates],
            "best_MB_per_s": round(max(rates), 1),
            "median_MB_per_s": round(sorted(rates)[len(rates) // 2], 1),
            "cpu_count": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()

"""Protocol overhead on loopback: host-observed minus on-target time, 150 KB float32 input.

Runs ``inference_server network null`` in a subprocess and drives full exchanges
(DATA, PROCESS, OUTPUT, STATS) with the ProtocolClient. Goals: overhead p50 <= 100 us,
p99 <= 250 us; no exchange >= 40 ms in 10,000.
"""

from __future__ import annotations

import argparse

import numpy as np
from protocol_common import emit, micro, network_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--input-floats", type=int, default=38_400, help="150 KB of float32")
    args = parser.parse_args()
    t, elapsed = network_session(args.input_floats, args.samples, warmup=200)
    overhead = np.asarray(t["host"]) - np.asarray(t["target"])
    exchange = np.asarray(t["exchange"])
    emit(
        {
            "input_bytes": args.input_floats * 4,  # float32
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

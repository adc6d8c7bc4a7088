"""Samples per second against the null runtime with the full message flow, on loopback.

Each sample is DATA -> OK, PROCESS -> OK + OK, OUTPUT -> OK + bytes, STATS -> OK + JSON,
with a digits-sized input (8x8 float32, 256 bytes) by default. Goals: >= 5,000 samples/s;
no exchange >= 40 ms in 10,000.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from protocol_common import emit, micro, network_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--input-floats", type=int, default=64)
    args = parser.parse_args()
    t, elapsed = network_session(args.input_floats, args.samples, warmup=500)
    exchange = np.asarray(t["exchange"])
    emit(
        {
            "input_bytes": args.input_floats * 4,  # float32
            "samples": args.samples,
            "samples_per_s": round(args.samples / elapsed, 1),
            "exchange": micro(exchange),
            "exchanges_over_40ms": int(np.sum(exchange >= 0.040)),
            "cpu_count": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()

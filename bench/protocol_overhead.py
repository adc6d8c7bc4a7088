"""Protocol overhead on loopback: host-observed minus on-target time, 150 KB float32 input.

Runs one ``inference_server network null`` subprocess per configuration: each frame
authentication suite (``--frame-auth none``, ``hmac-sha256``, ``aes-gcm``), each with the
model in a process of its own (the default), and ``aes-gcm`` with ``--model-in-server``
(what that process costs). It drives full exchanges (DATA, PROCESS, OUTPUT, STATS) with the
ProtocolClient, the configurations taking turns in rounds so that all of them see the same
machine; each one's exchange p50 is then given as a ratio to ``none``'s.
Definitions: *exchange* is the wall time of one full exchange on the host; *overhead* is the
host-observed inference time minus the on-target one. Warm-up: 200 exchanges per configuration.
Goals: overhead p50 <= 100 us, p99 <= 250 us; no exchange >= 40 ms in 10,000; tagged
frames cost under 10 % of the exchange p50 at 150 KB. Also measured: the tag throughput of
each suite on a 150 KB payload, beside CRC32 (which every frame carries anyway).
"""

from __future__ import annotations

import argparse
import os
import time
import zlib
from contextlib import ExitStack

import numpy as np
from protocol_common import emit, micro, null_client, run_exchanges

from kenning.runtimeprotocols.frameauth import SUITES, FrameTagger, session_keys, suite_number

SUITE_NAMES = ("none", "hmac-sha256", "aes-gcm")
CONFIGS = {
    **{name: ["--frame-auth", name] for name in SUITE_NAMES},
    "aes-gcm, model in server": ["--frame-auth", "aes-gcm", "--model-in-server"],
}


def tag_throughput(size: int, repeats: int = 2000) -> dict[str, float]:
    """GB/s of each suite's tag (and of CRC32) over a ``size``-byte payload, best of 5."""
    payload, header = os.urandom(size), bytes(24)
    keys = session_keys(bytes(32), bytes(32), bytes(32), 2)

    def best(fn: object) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeats):
                fn()  # type: ignore[operator]
            times.append((time.perf_counter() - start) / repeats)
        return round(size / min(times) / 1e9, 2)

    figures = {"crc32_gb_per_s": best(lambda: zlib.crc32(payload))}
    for name in SUITE_NAMES[1:]:
        tagger = FrameTagger(suite_number(name), keys["host"])
        figures[f"{name}_gb_per_s"] = best(lambda t=tagger: t.tag(header, payload))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--samples", type=int, default=10_000, help="per configuration")
    parser.add_argument("--rounds", type=int, default=20, help="turns each configuration takes")
    parser.add_argument("--input-floats", type=int, default=38_400, help="150 KB of float32")
    args = parser.parse_args()
    per_round = max(1, args.samples // args.rounds)
    timings: dict[str, dict[str, list[float]]] = {}
    elapsed = dict.fromkeys(CONFIGS, 0.0)
    with ExitStack() as stack:
        clients = {
            name: stack.enter_context(null_client(args.input_floats, extra))
            for name, extra in CONFIGS.items()
        }
        for name, (client, data) in clients.items():
            assert client.protocol.frame_auth == CONFIGS[name][1], name
            run_exchanges(client, data, 200)
            timings[name] = {"exchange": [], "host": [], "target": []}
        for _ in range(args.rounds):
            for name, (client, data) in clients.items():
                start = time.perf_counter()
                t = run_exchanges(client, data, per_round)
                elapsed[name] += time.perf_counter() - start
                for key, values in t.items():
                    timings[name][key] += values
    figures: dict[str, object] = {
        "input_bytes": args.input_floats * 4,  # float32
        "samples_per_configuration": per_round * args.rounds,
        "cpu_count": os.cpu_count(),
    }
    base = float(np.median(timings["none"]["exchange"]))
    for name in CONFIGS:
        t = timings[name]
        overhead = np.asarray(t["host"]) - np.asarray(t["target"])
        exchange = np.asarray(t["exchange"])
        figures[name] = {
            "overhead": micro(overhead),
            "overhead_negative_fraction": round(float(np.mean(overhead < 0)), 4),
            "exchange": micro(exchange),
            "exchanges_over_40ms": int(np.sum(exchange >= 0.040)),
            "samples_per_s": round(len(exchange) / elapsed[name], 1),
            "exchange_p50_vs_none": round(float(np.median(exchange)) / base, 3),
        }
    figures["tag_throughput_150kb"] = tag_throughput(args.input_floats * 4)
    figures["suites"] = sorted(SUITES.values())
    emit(figures)


if __name__ == "__main__":
    main()

"""How protocol reads should wait: spin, block or adaptive, host and server on one core or two.

For each read mode of ``NetworkProtocol`` (``--read-mode``: ``spin`` polls up to 100 µs then
sleeps, ``block`` sleeps at once, ``adaptive`` polls with ``sched_yield`` only while replies
came inside the window) and each placement (``taskset``: server and host on the same core, or
on different cores), the full message flow against the null runtime (DATA, PROCESS, OUTPUT,
STATS per sample) runs ``--samples`` times after a warm-up; printed side by side: samples/s,
exchange p50/p99, and the CPU time the server process used per sample (what a spinning read
costs a target while it measures).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from protocol_common import emit, float_spec, micro, run_exchanges

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.network import READ_MODES, NetworkProtocol


def _server(mode: str, core: int, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    cmd = ["taskset", "-c", str(core), sys.executable, "-m", "kenning.scenarios.inference_server",
           "network", "null", "--port", "0", "--read-mode", mode, "--verbosity", "WARNING",
           "--save-model-path", str(tmp / "model.bin")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(mode: str, same_core: bool, samples: int, floats: int) -> dict[str, float]:
    """Samples/s, exchange percentiles and server CPU per sample for one configuration."""
    os.sched_setaffinity(0, {0 if same_core else 1})
    data = np.random.default_rng(0).random(floats, dtype=np.float32).tobytes()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        proc, endpoint = _server(mode, 0, tmp)
        try:
            host, port = endpoint.rsplit(":", 1)
            model = tmp / "host.bin"
            model.write_bytes(b"\0" * 1024)
            protocol = NetworkProtocol(host, int(port), read_mode=mode)
            with ProtocolClient(protocol) as client:
                client.upload_io_spec(float_spec(floats, 10))
                client.upload_model(model)
                run_exchanges(client, data, 300)
                cpu0 = _cpu_seconds(proc.pid)
                start = time.perf_counter()
                timings = run_exchanges(client, data, samples)
                elapsed = time.perf_counter() - start
                server_cpu = _cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(10)
    exchange = micro(timings["exchange"])
    return {
        "samples_per_s": round(samples / elapsed, 1),
        "exchange_p50_us": exchange["p50_us"],
        "exchange_p99_us": exchange["p99_us"],
        "server_cpu_us_per_sample": round(1e6 * server_cpu / samples, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--input-floats", type=int, default=16, help="16 floats: 64 bytes")
    parser.add_argument("--modes", nargs="+", default=list(READ_MODES), choices=READ_MODES)
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two cores (same core and separate cores are compared)")
    figures: dict[str, object] = {"samples": args.samples, "input_bytes": args.input_floats * 4}
    print(f"{'mode':<10} {'placement':<15} {'samples/s':>10} {'p50 us':>8} {'p99 us':>8} "
          f"{'server CPU us/sample':>21}")  # fmt: skip
    for same in (True, False):
        placement = "same core" if same else "separate cores"
        for mode in args.modes:
            row = one(mode, same, args.samples, args.input_floats)
            figures[f"{mode}_{'same' if same else 'separate'}"] = row
            print(f"{mode:<10} {placement:<15} {row['samples_per_s']:>10} "
                  f"{row['exchange_p50_us']:>8} {row['exchange_p99_us']:>8} "
                  f"{row['server_cpu_us_per_sample']:>21}", flush=True)  # fmt: skip
    figures["bench_max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    emit(figures)


if __name__ == "__main__":
    main()

"""kenning's protocol against the loopback limit: time and CPU per sample beside a raw socket pair.

Why the raw pair is the limit: it puts the same bytes on the wire in the same message pattern
(DATA + OK; PROCESS + OK + OK<time>; OUTPUT + OK<output>; a model upload MODEL + OK), from
Python on both ends, over the same loopback TCP, with one ``sendmsg`` per message and
``recv_into`` a reused buffer, and nothing else: no checks, checksum, authentication or
allocation (bench/protocol_raw.py). A Python host cannot move these messages faster here; what
kenning spends beyond it is its own. Two raw variants differ in how a read waits (``block``;
``poll``, as kenning's ``--read-mode adaptive``); each figure is a ratio to the faster one.

kenning's side is its real code: ``python -m kenning.scenarios.inference_server network null``
and :class:`~kenning.runtimeprotocols.client.ProtocolClient` (what ``inference_tester`` uses),
handshake and frame tags included, with ``--read-mode`` on both ends as given (default
adaptive; ``--kenning-modes adaptive block`` measures both).

Method: for each size, ``--rounds`` rounds; in each round every variant runs for
``--seconds`` after a warm-up of ``--warmup`` samples on its own connection, the order
reversed every other round. Time per sample is the round's wall time over its samples; CPU
per sample is this process's CPU time plus the server process's (``/proc``), over its
samples. Printed per size: the median ratio to the faster raw variant and its spread (min-max
over rounds); connect (TCP and the handshake, or the raw pair's connect and one round trip):
median of ``--connects``; the 64 MiB upload (to ``MODEL``'s ``OK``, so with the model's load):
median of 3 sessions, each :data:`READY_S` after the one before (``upload_64mib``), and again
50 ms apart (``upload_64mib_back_to_back``: kenning's server then starts the next model's
process while the model arrives, and the two share the cores). The last line is the worst
time ratio. ``--load N`` runs N CPU-burning processes beside it all (stopped by PID at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from protocol_common import float_spec
from protocol_raw import DATA, MODEL, OUTPUT, PROCESS, RawPeer

SIZES = {"64 B": 64, "4 KiB": 4096, "150 KB": 153_600, "600 KB": 602_112, "4 MB": 4_194_304}
UPLOAD = 64 << 20
#: seconds between upload sessions for the headline figure: less than a host's process takes
#: to start (its imports), and enough for the server's next model process, which it starts
#: when a host leaves (about 0.2 s of CPU here), to be ready
READY_S = 1.0
HERE = Path(__file__).resolve().parent


@contextmanager
def process(cmd: list[str]) -> Iterator[tuple[int, str]]:
    """Run a server that prints ``listening on HOST:PORT``; yield its pid and endpoint."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"server did not start: {line!r}")
        yield proc.pid, line.removeprefix("listening on ")
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Kenning:
    """kenning's client and a null-runtime server, reads waiting as ``mode``."""

    def __init__(self, stack: ExitStack, mode: str, tmp: Path) -> None:
        self.name = f"kenning {mode}"
        self.mode = mode
        cmd = [
            sys.executable,
            "-m",
            "kenning.scenarios.inference_server",
            "network",
            "null",
            "--port",
            "0",
            "--read-mode",
            mode,
            "--save-model-path",
            str(tmp / f"{mode}.bin"),
            "--verbosity",
            "WARNING",
        ]
        self.pid, endpoint = stack.enter_context(process(cmd))
        host, port = endpoint.rsplit(":", 1)
        self.address = (host, int(port))
        self.model = tmp / "model.bin"
        self.model.write_bytes(b"\0" * 1024)
        self.client: Any = None

    def _client(self) -> Any:
        from kenning.runtimeprotocols.client import ProtocolClient
        from kenning.runtimeprotocols.network import NetworkProtocol

        return ProtocolClient(NetworkProtocol(*self.address, read_mode=self.mode))

    def open(self, size: int) -> None:
        self.client = self._client()
        self.client.connect()
        self.client.upload_io_spec(float_spec(size // 4, 10))
        self.client.upload_model(self.model)

    def sample(self, data: bytes) -> None:
        self.client.upload_input(data)
        self.client.request_processing()
        self.client.download_output()

    def close(self) -> None:
        self.client.close()

    def connect(self) -> float:
        client = self._client()
        start = time.perf_counter()
        client.connect()
        took = time.perf_counter() - start
        client.close()
        return took

    def upload(self, path: Path) -> float:
        client = self._client()
        client.connect()
        client.upload_io_spec(float_spec(16, 10))
        start = time.perf_counter()
        client.upload_model(path)
        took = time.perf_counter() - start
        client.close()
        return took


class Raw:
    """The raw socket pair (bench/protocol_raw.py), reads waiting as ``mode``."""

    def __init__(self, stack: ExitStack, mode: str) -> None:
        self.name = f"raw {mode}"
        self.mode = mode
        cmd = [sys.executable, str(HERE / "protocol_raw.py"), "serve", mode]
        self.pid, endpoint = stack.enter_context(process(cmd))
        host, port = endpoint.rsplit(":", 1)
        self.address = (host, int(port))
        self.peer: RawPeer | None = None

    def _peer(self, capacity: int) -> RawPeer:
        import socket

        return RawPeer(socket.create_connection(self.address), self.mode, capacity)

    def open(self, size: int) -> None:
        self.peer = self._peer(1 << 16)

    def sample(self, data: bytes) -> None:
        peer = self.peer
        assert peer is not None
        peer.send(DATA, data)
        peer.receive()
        peer.send(PROCESS)
        peer.receive()
        peer.receive()
        peer.send(OUTPUT)
        peer.receive()

    def close(self) -> None:
        assert self.peer is not None
        self.peer.sock.close()

    def connect(self) -> float:
        start = time.perf_counter()
        peer = self._peer(64)
        peer.send(MODEL)
        peer.receive()
        took = time.perf_counter() - start
        peer.sock.close()
        return took

    def upload(self, path: Path) -> float:
        data = path.read_bytes()
        peer = self._peer(64)
        start = time.perf_counter()
        peer.send(MODEL, data)
        peer.receive()
        took = time.perf_counter() - start
        peer.sock.close()
        return took


def run_round(variant: Any, data: bytes, seconds: float, warmup: int) -> tuple[float, float]:
    """(seconds, CPU seconds) per sample of ``variant`` over ``seconds`` of samples."""
    variant.open(len(data))
    for _ in range(warmup):
        variant.sample(data)
    count = 0
    cpu0, server0, start = time.process_time(), cpu_seconds(variant.pid), time.perf_counter()
    while time.perf_counter() - start < seconds:
        variant.sample(data)
        count += 1
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0 + cpu_seconds(variant.pid) - server0
    variant.close()
    return wall / count, cpu / count


def ratios(figures: dict[str, list[float]], names: list[str]) -> dict[str, Any]:
    """Each kenning variant's median ratio to the faster raw variant, with the spread."""
    raw = min((statistics.median(figures[n]), n) for n in names if n.startswith("raw"))[1]
    out: dict[str, Any] = {"limit": raw}
    for name in names:
        per_round = [k / r for k, r in zip(figures[name], figures[raw], strict=True)]
        out[name] = {
            "median": round(statistics.median(per_round), 2),
            "min": round(min(per_round), 2),
            "max": round(max(per_round), 2),
        }
    return out


@contextmanager
def cpu_load(count: int) -> Iterator[list[int]]:
    """``count`` CPU-burning processes, stopped by PID afterwards."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def _connects(variant: Any, count: int) -> list[float]:
    """``count`` connects, each after the server has had 50 ms to end the session before."""
    took = []
    for _ in range(count):
        time.sleep(0.05)  # a kenning server serves one host at a time: let it see the close
        took.append(variant.connect())
    return took


def _uploads(variant: Any, model: Path, pause: float) -> list[float]:
    """Three uploads, each in a session of its own ``pause`` seconds after the one before."""
    took = []
    for _ in range(3):
        time.sleep(pause)
        took.append(variant.upload(model))
    return took


def measure(args: argparse.Namespace, variants: list[Any], tmp: Path) -> dict[str, Any]:
    names = [v.name for v in variants]
    result: dict[str, Any] = {"sizes": {}}
    worst = 0.0
    rng = np.random.default_rng(0)
    for label in args.sizes:
        data = rng.random(SIZES[label] // 4, dtype=np.float32).tobytes()
        time_s: dict[str, list[float]] = {n: [] for n in names}
        cpu_s: dict[str, list[float]] = {n: [] for n in names}
        for index in range(args.rounds):
            order = variants if index % 2 == 0 else variants[::-1]
            for variant in order:
                t, c = run_round(variant, data, args.seconds, args.warmup)
                time_s[variant.name].append(t)
                cpu_s[variant.name].append(c)
        entry = {
            "time_us": {n: round(statistics.median(v) * 1e6, 1) for n, v in time_s.items()},
            "time_ratio": ratios(time_s, names),
            "cpu_ratio": ratios(cpu_s, names),
        }
        worst = max(worst, *(entry["time_ratio"][n]["median"] for n in names if "kenning" in n))
        result["sizes"][label] = entry
        print(f"{label}: " + json.dumps(entry), flush=True)
    connects = {v.name: statistics.median(_connects(v, args.connects)) for v in variants}
    result["connect_ms"] = {n: round(s * 1e3, 3) for n, s in connects.items()}
    print("connect_ms: " + json.dumps(result["connect_ms"]), flush=True)
    model = tmp / "upload.bin"
    model.write_bytes(os.urandom(UPLOAD))
    for key, pause in (("upload_64mib", READY_S), ("upload_64mib_back_to_back", 0.05)):
        uploads = {v.name: statistics.median(_uploads(v, model, pause)) for v in variants}
        limit = min(s for n, s in uploads.items() if n.startswith("raw"))
        result[key] = {
            n: {"ms": round(s * 1e3, 1), "ratio": round(s / limit, 2)} for n, s in uploads.items()
        }
        print(f"{key}: " + json.dumps(result[key]), flush=True)
    result["worst_time_ratio"] = round(worst, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per variant and round")
    parser.add_argument("--warmup", type=int, default=50, help="samples before each round")
    parser.add_argument("--connects", type=int, default=30)
    parser.add_argument("--load", type=int, default=0, help="CPU-burning processes beside it")
    parser.add_argument(
        "--kenning-modes", nargs="+", default=["adaptive"], choices=["adaptive", "block", "spin"]
    )
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="kenning-limit-") as name:
        tmp = Path(name)
        variants: list[Any] = [Raw(stack, "block"), Raw(stack, "poll")]
        variants += [Kenning(stack, mode, tmp) for mode in args.kenning_modes]
        load = stack.enter_context(cpu_load(args.load))
        print(f"load: {len(load)} CPU-burning processes {load}; cores: {os.cpu_count()}")
        result = measure(args, variants, tmp)
    result["load"] = args.load
    print(json.dumps(result))
    print(f"worst time ratio to raw: {result['worst_time_ratio']}")


if __name__ == "__main__":
    main()

"""Soak: one TVM inference server, a real host benching in a loop, hostile clients beside it.

A real host connects, proves the secret, sends a small TVM model (a 16 -> 10 MatMul compiled
here) and runs ``--exchanges`` full exchanges (DATA, PROCESS, OUTPUT; STATS at the end),
again and again. After ``--quiet-minutes`` alone, hostile clients start beside it until
the end: pre-authentication floods (connections that say nothing, or half a HELLO), drips (a
byte every 0.5 s), busy-pinning (a host with the secret that keeps sending after ``busy``),
fuzzed frames after an authenticated handshake (random bytes, mutated tagged frames), and
crashing models (a library whose constructor traps: SIGILL in the model's process).

Printed: per phase, the real host's completed and failed sessions (with reasons) and its
exchange latency (wall time of DATA + PROCESS + OUTPUT on the host, the first 5 of each
session left out as warm-up) p50/p99 with the sample count; the server's RSS and open file
descriptors sampled every 10 s (first, max, last); what each hostile did; whether the server
is still running. Last line: all of it as JSON.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from protocol_common import emit, micro

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.network import NetworkProtocol
from kenning.runtimeprotocols.wire import MessageType, encode_frames

SECRET = os.urandom(32).hex()
SPEC = IOSpec(
    inputs=[TensorSpec(name="x", shape=[1, 16], dtype="float32")],
    outputs=[TensorSpec(name="y", shape=[1, 10], dtype="float32")],
)
TRAP = "__attribute__((constructor)) static void crash(void) { __builtin_trap(); }\n"


def build_models(folder: Path) -> tuple[Path, Path]:
    """The real host's TVM model and the crashing one."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from kenning.compilers.tvm import TVMCompiler

    weight = np.random.default_rng(0).standard_normal((16, 10)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "soak",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "soak.onnx")
    TVMCompiler(None, folder / "soak.so", target="llvm").compile(folder / "soak.onnx", SPEC)
    (folder / "trap.c").write_text(TRAP)
    compiler = shutil.which("cc") or "gcc"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-o", str(folder / "trap.so"), str(folder / "trap.c")],
        check=True,
        timeout=60,
    )
    return folder / "soak.so", folder / "trap.so"


def client(port: int, timeout: float = 10.0) -> ProtocolClient:
    c = ProtocolClient(NetworkProtocol(port=port, timeout=timeout))
    c.protocol.use_secret(SECRET.encode())
    return c


class Soak:
    def __init__(self, port: int, model: Path, trap: Path, exchanges: int) -> None:
        self.port, self.model, self.trap, self.exchanges = port, model, trap, exchanges
        self.phase = "before"
        self.stop = threading.Event()
        self.sessions: dict[str, Counter[str]] = {"before": Counter(), "during": Counter()}
        self.latency: dict[str, list[float]] = {"before": [], "during": []}
        self.hostile: Counter[str] = Counter()
        self.lock = threading.Lock()

    # -- the real host -------------------------------------------------------------
    def real_host(self) -> None:
        data = np.random.default_rng(1).random(16, dtype=np.float32).tobytes()
        while not self.stop.is_set():
            phase, times = self.phase, []
            try:
                with client(self.port, 20.0) as c:
                    c.upload_io_spec(SPEC)
                    c.upload_model(self.model)
                    for _ in range(self.exchanges):
                        start = time.perf_counter()
                        c.upload_input(data)
                        c.request_processing()
                        c.download_output()
                        times.append(time.perf_counter() - start)
                    c.download_statistics()
                outcome = "completed"
            except Exception as exc:  # noqa: BLE001 - every failure is a figure
                outcome = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            with self.lock:
                self.sessions[phase][outcome] += 1
                self.latency[phase] += times[5:]
            self.stop.wait(0.5)  # a gap between sessions, where the hostiles get served too

    # -- hostiles ----------------------------------------------------------------------
    def _count(self, what: str) -> None:
        with self.lock:
            self.hostile[what] += 1

    def _raw(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def flood(self) -> None:
        while not self.stop.is_set():
            socks = []
            for i in range(20):
                try:
                    sock = self._raw()
                    if i % 2:
                        sock.sendall(b"".join(encode_frames(MessageType.HELLO, bytes(32)))[:10])
                    socks.append(sock)
                except OSError:
                    self._count("flood: connection refused")
            self._count("flood: 20 silent or half-HELLO connections")
            self.stop.wait(3.0)
            for sock in socks:
                sock.close()

    def drip(self) -> None:
        while not self.stop.is_set():
            try:
                with self._raw() as sock:
                    frame = b"".join(encode_frames(MessageType.HELLO, bytes(32)))
                    for byte in frame:
                        if self.stop.wait(0.5):
                            break
                        sock.sendall(bytes([byte]))
            except OSError:
                pass
            self._count("drip: a HELLO a byte per 0.5 s")

    def busy_pinner(self) -> None:
        while not self.stop.is_set():
            c = client(self.port, 5.0)
            try:
                c.connect()
                c.upload_io_spec(SPEC)  # served: hold the slot a little, then go
                self.stop.wait(0.5)
                self._count("busy-pinner: served")
            except Exception as exc:  # noqa: BLE001
                if "busy" in str(exc):
                    try:  # told busy: keep sending
                        for _ in range(10):
                            c.protocol.write([b"\0"])
                            if self.stop.wait(0.5):
                                break
                    except Exception:  # noqa: BLE001 - closed at once, as it should be
                        pass
                self._count(f"busy-pinner: {type(exc).__name__}")
            finally:
                c.close()
            self.stop.wait(1.0)

    def fuzzer(self) -> None:
        rng = random.Random(0)
        while not self.stop.is_set():
            c = client(self.port, 5.0)
            try:
                c.connect()
                tagger, pick = c.protocol.tagger, rng.random()
                if pick < 0.3:  # random bytes
                    c.protocol.write([rng.randbytes(rng.randint(1, 300))])
                elif pick < 0.6:  # a tagged frame, then one bit of it changed
                    frame = bytearray(b"".join(encode_frames(MessageType.STATS, tagger=tagger)))
                    frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
                    c.protocol.write([bytes(frame)])
                else:  # a correctly tagged message of any type with a random payload
                    kind = rng.choice(list(MessageType))
                    payload = rng.randbytes(rng.randint(0, 2000))
                    c.protocol.write(encode_frames(kind, payload, tagger=tagger))
                c.protocol.receive_message(2.0)
                self._count("fuzzer: answered")
            except Exception as exc:  # noqa: BLE001
                self._count(f"fuzzer: {type(exc).__name__}")
            finally:
                c.close()
            self.stop.wait(0.3)

    def crasher(self) -> None:
        while not self.stop.is_set():
            c = client(self.port, 30.0)
            try:
                c.connect()
                c.upload_io_spec(SPEC)
                c.upload_model(self.trap)
                self._count("crasher: model loaded (!)")
            except Exception as exc:  # noqa: BLE001
                self._count("crasher: SIGILL reported" if "SIGILL" in str(exc) else
                            f"crasher: {type(exc).__name__}")  # fmt: skip
            finally:
                c.close()
            self.stop.wait(2.0)


def sample_server(pid: int) -> tuple[int, int]:
    """The server's RSS in bytes and its open file descriptors."""
    import psutil

    process = psutil.Process(pid)
    return process.memory_info().rss, process.num_fds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--minutes", type=float, default=30.0, help="the whole soak")
    parser.add_argument("--quiet-minutes", type=float, default=3.0, help="before the hostiles")
    parser.add_argument("--exchanges", type=int, default=50, help="per real session")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kenning-soak-") as tmp:
        folder = Path(tmp)
        model, trap = build_models(folder)
        command = [sys.executable, "-m", "kenning.scenarios.inference_server", "network", "tvm",
                   "--port", "0", "--save-model-path", str(folder / "target" / "model.so"),
                   "--secret-file", "-", "--verbosity", "WARNING", "--idle-timeout", "10",
                   "--handshake-timeout", "2"]  # fmt: skip
        log = (folder / "server.log").open("w")
        server = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(SECRET + "\n")
        server.stdin.close()
        line = server.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"server did not start: {line!r}")
        soak = Soak(int(line.rsplit(":", 1)[1]), model, trap, args.exchanges)
        threads = [threading.Thread(target=soak.real_host, daemon=True)]
        threads[0].start()
        resources: list[tuple[float, int, int]] = []
        start = time.monotonic()
        end, hostiles_at = start + args.minutes * 60, start + args.quiet_minutes * 60
        while time.monotonic() < end and server.poll() is None:
            resources.append((round(time.monotonic() - start), *sample_server(server.pid)))
            if soak.phase == "before" and time.monotonic() >= hostiles_at:
                soak.phase = "during"
                for target in (soak.flood, soak.drip, soak.busy_pinner, soak.fuzzer,
                               soak.crasher):  # fmt: skip
                    thread = threading.Thread(target=target, daemon=True)
                    thread.start()
                    threads.append(thread)
            time.sleep(10)
        alive = server.poll() is None
        soak.stop.set()
        for thread in threads:
            thread.join(60)
        server.terminate()
        server.wait(10)
        log.close()
    rss = [r[1] for r in resources]
    fds = [r[2] for r in resources]
    figures: dict[str, object] = {"minutes": args.minutes, "server_alive_at_end": alive}
    for phase in ("before", "during"):
        figures[f"{phase}_sessions"] = dict(soak.sessions[phase])
        figures[f"{phase}_exchange"] = micro(soak.latency[phase]) if soak.latency[phase] else {}
        figures[f"{phase}_exchange_samples"] = len(soak.latency[phase])
    figures["server_rss_mb"] = {
        "first": rss[0] >> 20,
        "max": max(rss) >> 20,
        "last": rss[-1] >> 20,
    }
    figures["server_fds"] = {"first": fds[0], "max": max(fds), "last": fds[-1]}
    figures["hostile"] = dict(soak.hostile)
    emit(figures)


if __name__ == "__main__":
    main()

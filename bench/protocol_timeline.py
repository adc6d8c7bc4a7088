"""Where one sample's time goes: host, server and model process, event by event.

    python bench/protocol_timeline.py [--size 64] [--seconds 3] [--read-mode adaptive]
                                      [--model-in-server]

Runs kenning's real server (``inference_server network null``) and a host that sends samples
(DATA + OK; PROCESS + OK + OK<time>; OUTPUT + OK<output>) for ``--seconds``, first untraced
(the time per sample), then traced: a ``sitecustomize`` hook in every process (host, server,
the model's process) stamps, on the shared monotonic clock, each message a transport writes,
each read that returns bytes, and each request and reply on the link between the server and
the model's process. Samples of the last two thirds are cut at the host's DATA; printed is
each event's median offset from it and the step from the event before, so a step shows
what it costs: a wake-up, a hop over loopback, Python work on one side. The stamps cost a
few microseconds each, so the traced sample is slower than the untraced one.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

#: the hook every process loads: stamps events, writes them to $KENNING_TIMELINE at exit
HOOK = """
import atexit, os, sys, time
_DIR = os.environ.get("KENNING_TIMELINE")
if _DIR:
    _events, _now = [], time.perf_counter_ns

    def _role():
        if sys.argv and sys.argv[0].endswith("modelchild.py"):
            return "model"
        return os.environ.get("KENNING_TIMELINE_ROLE", "server")

    def _dump():
        with open(os.path.join(_DIR, f"events.{os.getpid()}"), "w") as out:
            out.writelines(f"{t} {label}\\n" for t, label in _events)

    atexit.register(_dump)
    from kenning.runtimeprotocols import modellink, network
    from kenning.runtimeprotocols.wire import type_name

    _write, _read = network.NetworkProtocol.write, network.NetworkProtocol.read_some
    _send, _receive = modellink.ModelLink.send, modellink.ModelLink.receive

    def write(self, buffers):
        first = memoryview(buffers[0]).cast("B")
        what = type_name(first[5]) if len(first) > 5 else "bytes"
        _events.append((_now(), f"{_role()} sends {what}"))
        return _write(self, buffers)

    def read_some(self, view, timeout):
        count = _read(self, view, timeout)
        _events.append((_now(), f"{_role()} reads"))
        return count

    def send(self, code, payload, timeout):
        _events.append((_now(), f"{_role()} sends on the link"))
        return _send(self, code, payload, timeout)

    def receive(self, timeout):
        reply = _receive(self, timeout)
        _events.append((_now(), f"{_role()} receives on the link"))
        return reply

    network.NetworkProtocol.write, network.NetworkProtocol.read_some = write, read_some
    modellink.ModelLink.send, modellink.ModelLink.receive = send, receive
"""

#: the host: connect, upload, then samples for the given seconds; prints microseconds each
HOST = """
import sys, time
from pathlib import Path
from protocol_common import float_spec
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.network import NetworkProtocol
host, port, size, seconds, mode, model = sys.argv[1:]
client = ProtocolClient(NetworkProtocol(host, int(port), read_mode=mode))
client.connect()
client.upload_io_spec(float_spec(max(int(size) // 4, 1), 10))
client.upload_model(Path(model))
data, count = bytes(int(size)), 0
for _ in range(200):
    client.upload_input(data); client.request_processing(); client.download_output()
start = time.perf_counter()
while time.perf_counter() - start < float(seconds):
    client.upload_input(data); client.request_processing(); client.download_output()
    count += 1
print((time.perf_counter() - start) / count * 1e6)
client.close()
"""


def run(args: argparse.Namespace, tmp: Path, traced: bool) -> float:
    """One server and one host; the host's microseconds per sample."""
    hook = tmp / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    paths = [str(hook)] if traced else []
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    here = str(Path(__file__).resolve().parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*paths, *inherited, here]))
    if traced:
        env["KENNING_TIMELINE"] = str(tmp)
    server_cmd = [sys.executable, "-m", "kenning.scenarios.inference_server", "network"]
    server_cmd += ["null", "--port", "0", "--read-mode", args.read_mode, "--max-clients", "1"]
    server_cmd += ["--save-model-path", str(tmp / "model.bin"), "--verbosity", "WARNING"]
    if args.model_in_server:
        server_cmd.append("--model-in-server")
    server = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        found = None
        for line in server.stdout:
            found = re.search(r"listening on (\S+):(\d+)", line)
            if found:
                break
        if found is None:
            raise SystemExit("error: the server did not start (see its output above)")
        model = tmp / "upload.bin"
        model.write_bytes(bytes(1024))
        host_cmd = [sys.executable, "-c", HOST, found[1], found[2], str(args.size)]
        host_cmd += [str(args.seconds), args.read_mode, str(model)]
        host_env = dict(env, KENNING_TIMELINE_ROLE="host")
        out = subprocess.run(host_cmd, env=host_env, capture_output=True, text=True, check=True)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return float(out.stdout.split()[-1])


def timeline(tmp: Path) -> list[tuple[float, float, str]]:
    """(median offset from the host's DATA, median step, event) of a sample's events."""
    events = []
    for path in tmp.glob("events.*"):
        for line in path.read_text().splitlines():
            stamp, label = line.split(" ", 1)
            events.append((int(stamp), label))
    events.sort()
    events = events[len(events) // 3 :]  # the steady part
    starts = [i for i, (_, label) in enumerate(events) if label == "host sends DATA"]
    offsets: dict[str, list[float]] = defaultdict(list)
    for begin, end in itertools.pairwise(starts):
        seen: dict[str, int] = defaultdict(int)
        for stamp, label in events[begin : end + 1]:
            seen[label] += 1
            name = f"{label} ({seen[label]})" if seen[label] > 1 else label
            offsets[name].append((stamp - events[begin][0]) / 1000)
    rows = sorted(
        (statistics.median(v), k) for k, v in offsets.items() if len(v) > len(starts) // 2
    )
    return [(at, at - (rows[i - 1][0] if i else 0.0), name) for i, (at, name) in enumerate(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="input bytes per sample")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of samples")
    parser.add_argument("--read-mode", default="adaptive", choices=("adaptive", "spin", "block"))
    parser.add_argument(
        "--model-in-server",
        action="store_true",
        help="the server runs the model itself (what the model's own process costs)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kenning-timeline-") as name:
        tmp = Path(name)
        plain = run(args, tmp, traced=False)
        traced = run(args, tmp, traced=True)
        where = "in the server" if args.model_in_server else "in its own process"
        mode, seconds = args.read_mode, args.seconds
        print(f"{args.size}-byte input, --read-mode {mode}, {seconds:g} s, model {where}")
        print(f"time per sample: {plain:.1f} us untraced, {traced:.1f} us traced")
        print(f"{'at (us)':>9} {'step':>7}  event (medians over samples)")
        for at, step, name in timeline(tmp):
            print(f"{at:9.1f} {step:7.1f}  {name}")


if __name__ == "__main__":
    main()

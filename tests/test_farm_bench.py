"""``invoke bench --farm``: places reserved, locked, benched in parallel, released (issue 16).

A real labgrid coordinator and exporter on loopback publish three places tagged ``bench=yes``.
Their boards (inventory.yaml) are this machine: two over loopback TCP, one over a serial line
(a pseudo-terminal pair, the host's end served on TCP by ser2net, exported as the place's
``NetworkSerialPort``). Two runs started at once share the three places without ever using one
at the same time; a run killed with SIGKILL loses its places within its lease timeout.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from conftest_farm import (  # noqa: F401 - fixtures
    StartExporter,
    coordinator,
    processes,
    start_exporter,
)
from conftest_serial import ser2net
from ownmodels import onnx_mlp

from kenning.core.results import load_results
from kenning.runtimeprotocols.ptylink import PtyLink

PLACES = ("p1", "p2", "p3")

pytestmark = [pytest.mark.farm, pytest.mark.slow]


@pytest.fixture
def lab(coordinator: str, start_exporter: StartExporter, tmp_path: Path) -> Iterator[Path]:
    """Three exported places with their inventory and a scenario; yields the folder."""
    with ExitStack() as stack:
        board_end, host_end = stack.enter_context(PtyLink())
        url = stack.enter_context(ser2net(host_end, tmp_path))
        _lab(coordinator, start_exporter, tmp_path, board_end, url)
        yield tmp_path


def _lab(coordinator: str, start_exporter: StartExporter, tmp_path: Path, board_end: str,
         url: str) -> None:  # fmt: skip
    from kenning.farm import FarmSession

    port = int(url.rsplit(":", 1)[1])
    exporter = {name: {"NetworkService": {"address": "127.0.0.1", "username": "root",
                                          "port": 22}} for name in PLACES}  # fmt: skip
    exporter["p3"]["NetworkSerialPort"] = {"host": "127.0.0.1", "port": port, "speed": 115200}
    (tmp_path / "exporter.yaml").write_text(yaml.safe_dump(exporter))
    start_exporter("lab", tmp_path / "exporter.yaml")
    with FarmSession(coordinator, user="setup") as session:
        deadline = time.monotonic() + 10
        while len(session.resources()) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        for name in PLACES:
            session.add_place(name)
            session.add_match(name, f"*/{name}/*")
            session.set_tags(name, {"bench": "yes"})
    boards = {name: {"deploy": "local", "runtimes": ["onnxruntime"]} for name in PLACES}
    boards["p3"]["protocol"] = {"kind": "serial", "device": url, "board_device": board_end,
                                "baud": 115200}  # fmt: skip
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump({"default": "p1", "boards": boards}))
    onnx_mlp(tmp_path / "mlp")
    (tmp_path / "s.yaml").write_text(
        "name: s\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\nmeasure: {min-samples: 200, repeats: 1}\n"
    )


def _start(lab: Path, coordinator: str, build: str, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, KENNING_INVENTORY=str(lab / "inventory.yaml"))
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", "bench", "--scenario", str(lab / "s.yaml"),
         "--farm", coordinator, "--board", "bench=yes", "--executor", "local",
         "--build", str(lab / build), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip


def _spans(build: Path) -> list[tuple[str, str, datetime, datetime]]:
    """(place, reservation, start, end) of every benchmark a run made."""
    spans = []
    for path in sorted((build / "results").glob("p*/ort.json")):
        res = load_results(path)
        assert res.status == "complete" and res.agreement is not None and res.agreement.agrees
        farm = res.provenance["server"]["farm"]
        assert farm["place"] == path.parent.name and farm["exporter"] == "lab"
        step = res.provenance["steps"]["benchmark"]
        start = datetime.fromisoformat(str(step["started_at"]))
        spans.append((farm["place"], farm["reservation"], start,
                      start + timedelta(seconds=step["duration_s"])))  # fmt: skip
    return spans


def test_two_runs_at_once_share_three_places_and_never_one_at_a_time(
    lab: Path, coordinator: str
) -> None:
    runs = [_start(lab, coordinator, name) for name in ("run-a", "run-b")]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out[-2000:] + err[-3000:]
    a, b = _spans(lab / "run-a"), _spans(lab / "run-b")
    assert a and b and len(a) + len(b) >= 3  # both finished; every place was used
    assert {r for _, r, _, _ in a}.isdisjoint({r for _, r, _, _ in b})
    for place, _, start, end in a:  # one place is never benched by both runs at once
        for other, _, other_start, other_end in b:
            if other == place:
                assert end <= other_start or other_end <= start, (place, a, b)
    assert any(place == "p3" for place, *_ in a + b)  # the serial board was benched
    html = next((lab / "run-a" / "reports").rglob("index.html")).read_text()
    assert all(place in html for place, *_ in a)  # one report over the run's boards


def test_a_killed_run_loses_its_places_within_its_lease(lab: Path, coordinator: str) -> None:
    from kenning.farm import FarmSession

    lease = 5.0
    slow = _start(lab, coordinator, "killed", "--lease-timeout", str(lease),
                  "--min-samples", "200000")  # fmt: skip
    with FarmSession(coordinator, user="watcher") as session:
        deadline = time.monotonic() + 120
        while not any(p.acquired for p in session.places()):
            assert slow.poll() is None, slow.communicate()
            assert time.monotonic() < deadline, "the run never held a place"
            time.sleep(0.2)
        time.sleep(1.0)  # it holds every free place by now
        held = {p.name for p in session.places() if p.acquired}
    os.killpg(slow.pid, signal.SIGKILL)  # the run, its servers, everything: no release
    slow.communicate()
    killed = time.time()
    following = _start(lab, coordinator, "next", "--queue-wait", "120")
    out, err = following.communicate(timeout=900)
    assert following.returncode == 0, out[-2000:] + err[-3000:]
    spans = _spans(lab / "next")
    got = {place for place, *_ in spans}
    assert got & held, (got, held)
    waited = min(start for *_, start, _ in spans).timestamp() - killed
    print(f"places held by the killed run were benched again {waited:.1f} s after the kill")
    assert waited < lease + 30, waited  # freed by the lease, not by a person


def test_a_place_lost_mid_run_stops_its_benchmark_at_once(lab: Path, coordinator: str) -> None:
    # a lost lease was noticed only when the next server started, or at the end: the run
    # went on measuring a board that was someone else's
    from kenning.farm import FarmSession

    # a deployment that takes 10 ms an inference: 20,000 of them are over 3 minutes
    (lab / "s.yaml").write_text(
        "name: s\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
        "deployments:\n  slow: {runtime: {'null': {inference-time: 0.01}}}\n"
        "measure: {min-samples: 20000, repeats: 1}\n"
    )
    inventory = yaml.safe_load((lab / "inventory.yaml").read_text())
    for board in inventory["boards"].values():
        board["runtimes"].append("null")
    (lab / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    run = _start(lab, coordinator, "robbed", "--lease-timeout", "6", "--places", "1")
    with FarmSession(coordinator, user="thief") as session:
        deadline = time.monotonic() + 120
        while not list((lab / "robbed" / "logs").rglob("slow-p*-benchmark*.log")):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run never started a benchmark"
            time.sleep(0.2)
        time.sleep(2.0)  # it measures
        [held] = [p.name for p in session.places() if p.acquired]
        session.release(held)  # taken from the run, as `labgrid-client release --kick` does
        taken = time.monotonic()
    try:
        out, err = run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # it went on measuring a board it no longer held
        run.communicate()
        raise
    stopped = time.monotonic() - taken
    print(f"the benchmark on the lost place stopped {stopped:.1f} s after the place was taken")
    assert run.returncode != 0, out[-2000:]
    assert f"farm place {held} was lost: it is now held by nobody" in err, err[-3000:]
    assert "completed samples kept" in err and "Traceback" not in err, err[-3000:]
    assert stopped < 6 / 6 + 15, stopped  # one refresh (1 s), Ctrl-C saving, the release

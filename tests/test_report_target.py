"""The on-target section: end to end against on-target inference, and the target's load.

One test renders the results of a real protocol session (``inference_server``
with ONNX Runtime, ``inference_tester`` over ``NetworkProtocol`` on loopback).
The other covers what that session does not record yet (the target's CPU/RAM
series) with a documented transformation of a real host run.
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGITS, ROOT, TORCH_CNN, run_kenning
from conftest_report import PARSERS, load_json, render, shared_report_runs  # noqa: F401
from report_checks import check_tables, close

pytestmark = pytest.mark.slow


def _overhead_text(doc_text: str, raw: dict) -> None:
    """The prose figures: the share outside inference, and samples whose clocks disagree."""
    timed = [s for s in raw["samples"] if s.get("ok_interval_s") is not None]
    host = np.array([s["end_to_end_s"] for s in timed])
    target = np.array([s["inference_s"] for s in timed])
    match = re.search(
        r"on average (-?[\d.]+) % of the end-to-end time over (\d+) samples", doc_text
    )
    assert match, doc_text
    assert int(match.group(2)) == len(timed)
    close(match.group(1), 100 * (host - target).mean() / host.mean())
    negative = int((host < target).sum())
    assert negative == 0, "end to end encloses the target's inference"
    assert "the two clocks disagree" not in doc_text


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kenning.scenarios.inference_server",
            "kenning.runtimeprotocols.network.NetworkProtocol",
            "kenning.runtimes.onnxruntime.ONNXRuntime",
            "--save-model-path",
            str(tmp_path / "target" / "model.onnx"),
            "--port",
            "0",
            "--max-clients",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 120)
    line = server.stdout.readline() if ready else ""
    match = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not match:
        server.kill()
        server.communicate()
        pytest.fail(f"inference_server did not start: {line!r}")
    return server, int(match.group(1))


def test_real_protocol_session(report_runs: dict[str, Path], tmp_path: Path) -> None:
    model = Path(report_runs["torch"]).with_name("digits.pth")
    server, port = _serve(tmp_path)
    try:
        done = run_kenning(
            [
                "kenning.scenarios.inference_tester",
                TORCH_CNN,
                "kenning.compilers.onnx.ONNXCompiler",
                "kenning.runtimes.onnxruntime.ONNXRuntime",
                DIGITS,
                tmp_path / "remote.json",
                "--protocol-cls",
                "kenning.runtimeprotocols.network.NetworkProtocol",
                "--model-path",
                model,
                "--compiled-model-path",
                tmp_path / "digits.onnx",
                "--port",
                str(port),
            ]
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    remote = tmp_path / "remote.json"
    raw = load_json(remote)
    assert all(s["ok_interval_s"] is not None for s in raw["samples"])
    out = tmp_path / "report" / "remote.html"
    render(report_runs["torch"], remote, "Host and target", out)
    doc = PARSERS["html"](out.read_text())
    tables = set(doc.tables)
    assert "R2: End to end against on-target inference" in tables
    assert "R1: End to end against on-target inference" not in tables
    check_tables(doc, {"torch.json": load_json(report_runs["torch"]), "remote.json": raw})
    _overhead_text(doc.text, raw)
    assert "PyTorchDigitsCNN · onnx · onnxruntime · " in doc.text
    assert (out.parent / "img" / "remote_r2_on_target.png").is_file()


def test_target_load_and_times_by_transformation(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    """A real host run given target data by a documented transformation.

    Every sample gets ``inference_s = 0.75 * end_to_end_s`` (a quarter of the end-to-end
    time outside inference) and an ``ok_interval_s`` (as a protocol run has), and the
    host's own CPU/RAM series is copied as ``target_system``, as the target's STATS would
    send it.
    """
    raw = load_json(report_runs["torch"])
    for sample in raw["samples"]:
        sample["inference_s"] = 0.75 * sample["end_to_end_s"]
        sample["ok_interval_s"] = 0.8 * sample["end_to_end_s"]
    raw["target_system"] = dict(raw["system"])
    raw["provenance"] = {"board": "test-board"}
    made = tmp_path / "target.json"
    made.write_text(json.dumps(raw))
    out = tmp_path / "target.md"
    render(made, "Target", out)
    doc = PARSERS["md"](out.read_text())
    assert check_tables(doc, {"target.json": raw}) == 8
    _overhead_text(doc.text, raw)
    assert "25.00 % of the end-to-end time" in doc.text
    assert "GPU usage and GPU memory on the target: not recorded." in doc.text
    # the board named in the provenance replaces the host name
    assert "| Board | test-board |" in out.read_text()
    names = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert names == [
        "target_confusion_matrix.png",
        "target_host_cpu.png",
        "target_host_ram.png",
        "target_inference_time.png",
        "target_on_target.png",
        "target_target_cpu.png",
        "target_target_ram.png",
    ]

"""Several boards benched at once: a worker per board, a compile per architecture, one report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from conftest_tasks import invoke
from ownmodels import onnx_mlp

from kenning.core.results import load_results

BOARDS = ("p1", "p2", "p3")


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    onnx_mlp(tmp_path / "mlp")
    scenario = tmp_path / "par.yaml"
    scenario.write_text(
        "name: par\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n  tvm: {chain: [tvm], runtime: tvm}\n"
        "measure: {min-samples: 300}\n"
    )
    inventory = tmp_path / "inventory.yaml"
    boards = {
        name: {"deploy": "local", "runtimes": ["onnxruntime", "tvm"], "tags": ["bench-farm"]}
        for name in BOARDS
    }  # fmt: skip - fresh lists: YAML aliases are refused
    inventory.write_text(yaml.safe_dump({"default": "p1", "boards": boards}))
    return scenario, inventory


@pytest.mark.slow
def test_three_boards_are_benched_at_once_into_one_report(tmp_path: Path) -> None:
    scenario, inventory = _setup(tmp_path)
    build = tmp_path / "build"
    done = invoke("bench", "--repeats", "1", "--scenario", str(scenario), "--board", "bench-farm",
                  "--executor", "local", "--build", str(build), inventory=inventory)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    runs = {b: {d: load_results(build / "results" / b / f"{d}.json") for d in ("ort", "tvm")}
            for b in BOARDS}  # fmt: skip
    for board, results in runs.items():
        for res in results.values():
            assert res.status == "complete" and res.provenance["board"] == board
            assert res.agreement is not None and res.agreement.agrees
    # the three boards' first benchmarks ran at the same time
    spans = []
    for results in runs.values():
        step = results["ort"].provenance["steps"]["benchmark"]
        start = step["started_at"]
        spans.append((start, step["duration_s"]))
    starts = sorted(s for s, _ in spans)
    first_end = min(load_start(s) + timedelta(seconds=d) for s, d in spans)
    assert load_start(starts[-1]) < first_end, spans
    # tvm was compiled once for the three amd64 boards
    compiles = {str(r["tvm"].provenance["steps"]["compile"]["started_at"]) for r in runs.values()}
    assert len(compiles) == 1, compiles
    report = build / "reports" / "p1-p2-p3" / "index.html"
    html = report.read_text()
    assert all(f"on {b}" in html or b in html for b in BOARDS)


def load_start(value: str) -> object:
    from datetime import datetime

    return datetime.fromisoformat(value)

"""scenarios/shapes-detection.yaml end to end: trained, compiled four ways, benched, mAP reported.

The local run is cut short (fewer images and epochs, one run a deployment) so it stays a few
minutes; the emulated arm64 board (Docker, qemu-user) runs every deployment once too.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from conftest_boards import (  # noqa: F401 - fixtures
    TestBoard,
    arm64_board,
    board_client_key,
    write_inventory,
)
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures

from kenning.core.results import load_results

SCENARIO = ROOT / "scenarios" / "shapes-detection.yaml"
DEPLOYMENTS = {"torch-onnx-ort", "torch-ort-int8", "torch-tvm", "tf-tflite", "tf-tflite-int8"}
#: fewer images, epochs and samples than the scenario's: the test checks the flow, not speed
SHORT = [
    "--set", "dataset.parameters.samples=600",
    "--set", "models.torch.train.epochs=6",
    "--set", "models.tensorflow.train.epochs=6",
    "--set", "measure.repeats=1",
    "--set", "measure.min-samples=150",
    "--set", "measure.warmup=2",
    "--set", "measure.percentiles=[50, 90]",  # p99's interval alone needs 662 calls
]  # fmt: skip


def _run(build: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.run", str(SCENARIO), "--build", str(build),
         *SHORT, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def _check(build: Path, board: str) -> None:
    references = {
        p.stem: load_results(p) for p in (build / "results" / "framework").glob("*.json")
    }
    assert set(references) == {"torch", "tensorflow"}
    for name, ref in references.items():
        assert ref.detection is not None, name
        # chance is about 0: a detector that learned finds most shapes at IoU 0.5
        assert ref.detection.map50 > 0.4 and ref.detection.map50_95 > 0.1, (name, ref.detection)
    runs = {p.stem: load_results(p) for p in (build / "results" / board).glob("*.json")}
    assert set(runs) == DEPLOYMENTS
    for name, res in runs.items():
        assert res.status == "complete" and res.detection is not None, name
        assert 0.0 <= res.detection.map50_95 <= res.detection.map50 <= 1.0, name
        assert res.agreement is not None and res.agreement.boxes is not None, name
        assert res.agreement.boxes.samples >= 100, name
        if not name.endswith("int8"):  # float32 builds find the reference's boxes
            assert res.agreement.agrees, (name, res.agreement.reasons)
            reference = references[str(res.provenance["model"])].detection
            assert reference is not None
            assert abs(res.detection.map50 - reference.map50) < 0.02, name
    html = next((build / "reports").rglob("index.html")).read_text()
    assert "mAP@0.5:0.95" in html and "Boxes against the reference" in html


@pytest.mark.slow
def test_shapes_detection_is_benched_every_way_with_map_on_the_local_board(
    tmp_path: Path,
) -> None:
    _run(tmp_path / "build")
    _check(tmp_path / "build", "local")


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.timeout(1200)  # every deployment under qemu-user: about 0.25 s an inference
def test_shapes_detection_is_benched_on_the_emulated_arm64_board(
    arm64_board: TestBoard, tmp_path: Path
) -> None:
    inventory = write_inventory(
        tmp_path / "inventory.yaml", [arm64_board],
        protocol={"kind": "network", "port": 12345, "tunnel": "always"},
    )  # fmt: skip
    build = tmp_path / "build"
    _run(
        build, "--board", arm64_board.name, env=dict(os.environ, KENNING_INVENTORY=str(inventory))
    )
    _check(build, arm64_board.name)
    for path in (build / "results" / arm64_board.name).glob("*.json"):
        assert load_results(path).provenance["server"]["arch"] == "arm64", path

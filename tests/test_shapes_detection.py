"""scenarios/shapes-detection.yaml end to end: trained, compiled four ways, benched, mAP reported.

The local run is cut short (fewer images and epochs, one run a deployment) so it stays a few
minutes; the emulated arm64 board (Docker, qemu-user) takes the models it trained and runs a
deployment of each framework whose compile depends on the board (TVM for aarch64, TFLite).
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
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


def _check(build: Path, board: str, deployments: set[str] = DEPLOYMENTS) -> None:
    references = {
        p.stem: load_results(p) for p in (build / "results" / "framework").glob("*.json")
    }
    assert set(references) == {"torch", "tensorflow"}
    for name, ref in references.items():
        assert ref.detection is not None, name
        # chance is about 0: a detector that learned finds most shapes at IoU 0.5
        assert ref.detection.map50 > 0.4 and ref.detection.map50_95 > 0.1, (name, ref.detection)
    runs = {p.stem: load_results(p) for p in (build / "results" / board).glob("*.json")}
    assert set(runs) == deployments
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


@pytest.fixture(scope="module")
def local_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The scenario trained and benched every way on the local board, once for the module."""
    build = tmp_path_factory.mktemp("shapes") / "build"
    _run(build)
    yield build


@pytest.mark.slow
def test_shapes_detection_is_benched_every_way_with_map_on_the_local_board(
    local_build: Path,
) -> None:
    _check(local_build, "local")


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.timeout(1200)  # under qemu-user: about 0.25 s an inference
def test_shapes_detection_is_benched_on_the_emulated_arm64_board(
    local_build: Path, arm64_board: TestBoard, tmp_path: Path
) -> None:
    inventory = write_inventory(
        tmp_path / "inventory.yaml", [arm64_board],
        protocol={"kind": "network", "port": 12345, "tunnel": "always"},
    )  # fmt: skip
    build = tmp_path / "build"
    shutil.copytree(local_build / "models", build / "models")  # trained once, on the host
    on_board = {"torch-tvm", "tf-tflite"}
    _run(
        build, "--board", arm64_board.name, "--no-train",
        *[a for name in sorted(on_board) for a in ("--deployment", name)],
        "--set", "measure.min-samples=100",
        env=dict(os.environ, KENNING_INVENTORY=str(inventory)),
    )  # fmt: skip
    _check(build, arm64_board.name, on_board)
    for path in (build / "results" / arm64_board.name).glob("*.json"):
        assert load_results(path).provenance["server"]["arch"] == "arm64", path

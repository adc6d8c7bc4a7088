"""Models this project never saw, dropped into scenario files by file name: no Python written.

A ResNet-style PyTorch net exported to ONNX (and as a ``.pt2`` program) on a folder of images,
an ONNX MLP on 20 float features with labelled ``.npy`` data, an ONNX regressor with float
targets (mean absolute error), a model of two inputs (``inputs.npz``, or synthetic), a Keras
model as ``.keras`` and as ``.tflite`` with unlabelled or synthetic data: each benched with
every deployment that applies, on the local board and on the emulated arm64 test board, one
report each with agreement and speed.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from conftest_boards import (  # noqa: F401 - fixtures
    TestBoard,
    arm64_board,
    board_client_key,
    board_factory,
    write_inventory,
)
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures
from conftest_sshd import sshd  # noqa: F401 - fixture
from conftest_tasks import invoke
from ownmodels import (
    keras_and_tflite,
    onnx_mlp,
    onnx_regressor,
    onnx_two_inputs,
    torch_resnet_onnx,
)

from kenning.core.results import load_results

MEASURE = "measure: {min-samples: 700}\n"

SCENARIOS = {
    "resnet": (
        "name: resnet\nmodel: {file: resnet/resnet.onnx}\n"
        "dataset:\n  folder: resnet/images\n  preprocessing: {resize: [32, 32], scale: 255, "
        "mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], layout: NCHW}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n"
        "  ort-int8: {chain: [onnxruntime-quant], runtime: onnxruntime}\n"
        "  tvm: {chain: [tvm], runtime: tvm}\n" + MEASURE
    ),
    "resnet-pt2": (
        "name: resnet-pt2\nmodel: {file: resnet/resnet.pt2}\n"
        "dataset:\n  folder: resnet/images\n  preprocessing: {resize: [32, 32], scale: 255, "
        "mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], layout: NCHW}\n"
        "deployments:\n  torch: {runtime: pytorch}\n  ort: {chain: [onnx], runtime: onnxruntime}\n"
        "  tvm: {chain: [onnx, tvm], runtime: tvm}\n" + MEASURE
    ),
    "mlp": (
        "name: mlp\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n"
        "  ort-int8: {chain: [onnxruntime-quant], runtime: onnxruntime}\n"
        "  tvm: {chain: [tvm], runtime: tvm}\n"
        "measure: {min-samples: 700, subset: all}\n"  # every sample, not the validation split
    ),
    "keras": (
        "name: small-keras\nmodel: {file: keras/small.keras}\ndataset: {folder: keras/data}\n"
        "deployments:\n  tflite: {chain: [tflite], runtime: tflite}\n"
        "  tflite-int8: {chain: [{tflite: {target: int8}}], runtime: tflite}\n"
        "  ort: {chain: [onnx], runtime: onnxruntime}\n"
        "  tvm: {chain: [onnx, tvm], runtime: tvm}\n" + MEASURE
    ),
    "regression": (
        "name: linear\nmodel: {file: linear/linear.onnx}\ndataset: {folder: linear/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n  tvm: {chain: [tvm], runtime: tvm}\n"
        + MEASURE
    ),
    "two-inputs": (
        "name: two\nmodel: {file: two/two.onnx}\ndataset: {folder: two/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n"
        "  ort-int8: {chain: [onnxruntime-quant], runtime: onnxruntime}\n"
        "  tvm: {chain: [tvm], runtime: tvm}\n" + MEASURE
    ),
    "two-synthetic": (
        "name: two-synthetic\nmodel: {file: two/two.onnx}\ndataset: {synthetic: {samples: 40}}\n"
        "deployments:\n  tvm: {chain: [tvm], runtime: tvm}\n" + MEASURE
    ),
    "tflite": (
        "name: small-tflite\nmodel: {file: keras/small.tflite}\n"
        "dataset: {synthetic: {samples: 50}}\n"
        "deployments:\n  as-is: {runtime: tflite}\n" + MEASURE
    ),
}
#: scenario -> (deployments, what its labels are)
EXPECTED = {"resnet": (3, "classes"), "resnet-pt2": (3, "classes"), "mlp": (3, "classes"),
            "keras": (4, "none"), "regression": (2, "values"), "two-inputs": (3, "classes"),
            "two-synthetic": (1, "none"), "tflite": (1, "none")}  # fmt: skip


@pytest.fixture(scope="module")
def own() -> Iterator[Path]:
    """The users' models, data and scenario files, inside the work tree (Docker sees it)."""
    folder = ROOT / "build" / f"test-own-{uuid.uuid4().hex[:8]}"
    onnx_mlp(folder / "mlp")
    torch_resnet_onnx(folder / "resnet")
    keras_and_tflite(folder / "keras")
    onnx_regressor(folder / "linear")
    onnx_two_inputs(folder / "two")
    for name, text in SCENARIOS.items():
        (folder / f"{name}.yaml").write_text(text)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _check(build: Path, board: str, name: str) -> None:
    deployments, labels = EXPECTED[name]
    runs = sorted((build / "results" / board).glob("*.json"))
    assert len(runs) == deployments, runs
    assert len(list((build / "results" / "framework").glob("*.json"))) == 1
    for path in runs:
        res = load_results(path)
        assert res.status == "complete" and res.verdict is not None, path
        assert (res.metrics is not None) == (labels == "classes"), path
        assert (res.regression is not None) == (labels == "values"), path
        if res.regression is not None:  # the targets are the outputs plus 0.5
            assert abs(res.regression.mae - 0.5) < 1e-3, res.regression
        assert res.agreement is not None and res.agreement.agrees, (path, res.agreement)
        assert res.agreement.samples >= 8
        if name == "mlp":  # subset: all measures every one of the 120 samples
            assert res.dataset.subset == "all" and len(res.distinct_samples()) == 120
    html = next((build / "reports").rglob("index.html")).read_text()
    assert "Agreement" in html and html.count("<img") >= deployments


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_an_own_model_file_is_benched_every_way_on_the_local_board(own: Path, name: str) -> None:
    build = own / f"local-{name}"
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.run", str(own / f"{name}.yaml"),
         "--build", str(build), "--set", "measure.repeats=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "== report:" in done.stdout
    _check(build, "local", name)


@pytest.mark.slow
@pytest.mark.ssh
@pytest.mark.docker
def test_own_models_are_benched_on_the_emulated_arm64_board(
    own: Path, arm64_board: TestBoard, tmp_path: Path, docker_client: object
) -> None:
    inventory = write_inventory(
        tmp_path / "inventory.yaml", [arm64_board],
        protocol={"kind": "network", "port": 12345, "tunnel": "always"},
    )  # fmt: skip
    # every runtime once: ONNX Runtime (int8 too) and TVM from resnet, TFLite from a .tflite
    # file as it is. mlp's and keras's ways are these runtimes on other models (their
    # conversions run on the host, as on the local board); TFLite int8 on this board is
    # test_boards_bench's
    for name in ("resnet", "tflite"):
        build = (own / f"arm64-{name}").relative_to(ROOT)
        # one run a deployment, 200 samples: this checks every way runs under emulation, not
        # run-to-run noise (three repeats of 13 deployments under qemu outran pytest's 600 s)
        scenario = own / f"arm64-{name}.yaml"
        scenario.write_text(SCENARIOS[name].replace("min-samples: 700", "min-samples: 200"))
        done = invoke("bench", "--scenario", str(scenario), "--board",
                      arm64_board.name, "--executor", "docker", "--build", str(build),
                      "--repeats", "1", inventory=inventory)  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        _check(ROOT / build, arm64_board.name, name)
        for path in (ROOT / build / "results" / arm64_board.name).glob("*.json"):
            assert load_results(path).provenance["server"]["arch"] == "arm64", path


@pytest.mark.slow
def test_data_the_model_cannot_take_is_refused_once_naming_both_shapes(own: Path) -> None:
    scenario = own / "resnet-40.yaml"
    scenario.write_text(SCENARIOS["resnet"].replace("resize: [32, 32]", "resize: [40, 40]"))
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.run", str(scenario),
         "--build", str(own / "local-resnet-40")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 or done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert ("input shape mismatch: FolderDataset gives samples of shape (3, 40, 40) (after "
            "ONNXModel's preprocessing); the model's input 'image' takes (3, 32, 32)"
            ) in done.stderr  # fmt: skip
    assert done.stderr.count("not run: the reference run of model resnet refused its input") == 3
    # said once, without the command line (that is in the log, and with --verbosity DEBUG)
    assert sum(line.startswith("error:") for line in done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.count("input shape mismatch") == 1, done.stderr
    assert "kenning.scenarios.inference_performance" not in done.stderr
    assert not list((own / "local-resnet-40" / "compiled").glob("*"))  # nothing compiled


@pytest.mark.slow
def test_a_deployment_whose_outputs_differ_from_the_reference_is_flagged(own: Path) -> None:
    # the null runtime answers without running the model: labels or not, agreement says so
    scenario = own / "mlp-null.yaml"
    scenario.write_text(
        "name: mlp-null\nmodel: {file: mlp/mlp.onnx}\ndataset: {synthetic: {samples: 30}}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n  fake: {runtime: 'null'}\n"
        "measure: {min-samples: 100, percentiles: [50]}\n"
    )
    build = own / "local-mlp-null"
    done = subprocess.run(
        [sys.executable, "-m", "kenning.scenarios.run", str(scenario), "--build", str(build)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    fake = load_results(build / "results" / "local" / "fake.json").agreement
    assert fake is not None and not fake.agrees and fake.samples == 30
    assert "fake on local: outputs DISAGREE with model mlp-null's reference run" in done.stderr
    assert load_results(build / "results" / "local" / "ort.json").agreement.agrees  # type: ignore[union-attr]
    assert "DISAGREES" in (build / "reports" / "local" / "index.html").read_text()

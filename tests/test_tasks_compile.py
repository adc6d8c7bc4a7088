"""`invoke compile` runs each step in its pinned image and writes the artifact to the host."""

# ruff: noqa: F811 - pytest fixtures imported from conftest_docker are redefined as arguments

import json
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT
from conftest_docker import docker_client  # noqa: F401 - fixture
from conftest_tasks import build, invoke  # noqa: F401 - fixture

from kenning.core.iospec import IOSpec
from kenning.toolchain.run.benchtask import load_job
from kenning.toolchain.scenario.load import ScenarioError


@pytest.mark.docker
@pytest.mark.parametrize(
    ("deployment", "artifact", "images", "elf"),
    [
        ("torch-tvm", "torch-tvm-amd64.so", ["kenning/train-torch", "kenning/compile-tvm"],
         "x86-64"),
        ("tf-tflite", "tf-tflite-amd64.tflite", ["kenning/compile-tflite"], None),
        ("torch-ort-int8", "torch-ort-int8-amd64.onnx",
         ["kenning/train-torch", "kenning/compile-tvm"], None),
    ],
)  # fmt: skip
def test_compile_runs_in_the_compile_images(
    build: Path, deployment: str, artifact: str, images: list[str], elf: str | None,
    docker_client: object,
) -> None:  # fmt: skip
    done = invoke("compile", "--deployment", deployment, "--executor", "docker",
                  "--build", str(build))  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = ROOT / build / "compiled" / artifact
    assert out.is_file() and IOSpec.load(out).inputs
    records = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    assert [r["image"].split(":")[0] for r in records] == images
    for record in records:
        assert record["executor"] == "docker" and record["exit_code"] == 0
        assert record["image_id"] == docker_client.images.get(record["image"]).id
        assert record["lock_sha256"]
    if elf:
        assert elf in subprocess.run(["file", str(out)], capture_output=True, text=True).stdout


def test_a_deployment_plans_one_step_per_compiler_in_its_image(tmp_path: Path) -> None:
    job = load_job(ROOT / "scenarios" / "digits.yaml")
    planned = job.plan("torch-tvm", tmp_path, "arm64")
    steps = planned.steps
    assert [(s.name, s.image) for s in steps] == [("export", "train-torch"),
                                                  ("compile", "compile-tvm")]  # fmt: skip
    assert planned.artifact.name == "torch-tvm-arm64.so" and planned.format == "tvm"
    assert steps[1].argv()[-2:] == ["--target", "aarch64"]  # from the board's architecture
    # steps are data: what each reads and writes, relative to the build
    assert steps[0].inputs == [str(tmp_path / "models" / "torch.pth")]
    assert steps[0].outputs == steps[1].inputs == [str(tmp_path / "compiled" /
                                                       "torch-tvm-arm64.1.onnx")]  # fmt: skip
    assert steps[1].outputs == [str(planned.artifact)]
    # parameters of the file are the compiler's flags
    int8 = job.plan("tf-tflite-int8", tmp_path, "amd64").steps
    assert int8[0].argv()[-6:] == ["--target", "int8", "--inference-input-type", "int8",
                                   "--inference-output-type", "int8"]  # fmt: skip


def test_an_impossible_chain_is_refused_before_any_work_naming_the_step(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\nmodel: {file: m.onnx}\ndataset: {synthetic: {}}\ndeployments:\n"
        "  lite: {chain: [tflite], runtime: tflite}\n"
        "  fast: {chain: [{tvm: {tune_trials: 3}}], runtime: onnxruntime}\n"
    )
    with pytest.raises(ScenarioError) as err:
        load_job(scenario)
    lines = str(err.value).splitlines()
    assert lines[0] == (f"{scenario}:5: deployment 'lite', step 1 'tflite': takes keras "
                        "models, and is given an onnx model")  # fmt: skip
    assert "'tune_trials'" in lines[1] and "tune-trials" in lines[1]
    assert "loads onnx models; the last step writes tvm" in lines[2]
    done = invoke("compile", "--scenario", str(scenario), "--build", str(tmp_path / "b"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "step 1 'tflite'" in done.stderr and not (tmp_path / "b").exists()


def test_compile_without_a_trained_model_says_what_to_run(tmp_path: Path) -> None:
    done = invoke("compile", "--deployment", "torch-tvm", "--executor", "local",
                  "--build", str(tmp_path))  # fmt: skip
    assert done.returncode != 0
    assert "run `invoke train`" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("scenario", sorted((ROOT / "scenarios").glob("*.yaml")))
def test_every_shipped_scenario_is_valid_and_every_chain_can_work(scenario: Path) -> None:
    job = load_job(scenario)
    for name in job.scenario.deployments:
        for arch in ("amd64", "arm64"):
            planned = job.plan(name, Path("build"), arch)
            assert planned.artifact.name.startswith(f"{name}-{arch}") or not planned.steps

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
from kenning.toolchain.compile import plan
from kenning.utils.errors import ConfigurationError


@pytest.mark.docker
@pytest.mark.parametrize(
    ("compiler", "artifact", "images", "elf"),
    [
        ("tvm", "digits-torch-tvm.so", ["kenning/train-torch", "kenning/compile-tvm"], "x86-64"),
        ("tflite", "digits-tensorflow-tflite.tflite", ["kenning/compile-tflite"], None),
        (
            "onnxruntime-quant",
            "digits-torch-onnxruntime-quant.onnx",
            ["kenning/train-torch", "kenning/compile-tvm"],
            None,
        ),
    ],
)
def test_compile_runs_in_the_compile_images(
    build: Path, compiler: str, artifact: str, images: list[str], elf: str | None,
    docker_client: object,
) -> None:  # fmt: skip
    done = invoke("compile", "--compiler", compiler, "--executor", "docker", "--build", str(build))
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


def test_compile_plan_refuses_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="takes tensorflow models"):
        plan("torch", "tflite", "", tmp_path)
    with pytest.raises(ConfigurationError, match="unknown compiler 'xla'"):
        plan("torch", "xla", "", tmp_path)
    steps, artifact = plan("torch", "tvm", "aarch64", tmp_path)
    assert [s.image for s in steps] == ["train-torch", "compile-tvm"]
    assert artifact.name == "digits-torch-tvm-aarch64.so"
    assert steps[1].argv()[-2:] == ["--target", "aarch64"]
    # steps are data: what each reads and writes, relative to the build
    assert steps[0].inputs == [str(tmp_path / "models" / "digits-torch.pth")]
    onnx = str(tmp_path / "compiled" / "digits-torch.onnx")
    assert steps[0].outputs == steps[1].inputs == [onnx]
    assert steps[1].outputs == [str(artifact)]


def test_compile_without_a_trained_model_says_what_to_run(tmp_path: Path) -> None:
    done = invoke("compile", "--compiler", "tvm", "--executor", "local", "--build", str(tmp_path))
    assert done.returncode != 0
    assert "run `invoke train`" in done.stderr and "Traceback" not in done.stderr

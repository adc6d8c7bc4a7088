"""kenning's images do their jobs: TVM modules move from compile-tvm to the runtime-only
targets, the MXNet image runs kenning's MXNet worker, images carry their provenance."""

# ruff: noqa: F811 - pytest fixtures imported from conftest_docker are redefined as arguments
from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from capabilities import missing
from conftest_docker import docker_client, ours, require_image  # noqa: F401 - fixtures

from kenning.executors.docker import DockerExecutor
from kenning.executors.errors import ImageNotFoundError
from kenning.toolchain.images.catalogue import CATALOGUE, lock_hashes
from kenning.toolchain.images.info import image_info, stale_locks
from kenning.utils.provenance import work_tree

pytestmark = pytest.mark.docker

COMPILE = """
import sys
import numpy as np, onnx, tvm
from onnx import TensorProto, helper, numpy_helper
from tvm.relax.frontend.onnx import from_onnx
from tvm.support import cc

w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, "w")
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
    "probe",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])],
    [w],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
arch = sys.argv[1]
target = {"kind": "llvm"} if arch == "amd64" else {"kind": "llvm", "mtriple": "aarch64-linux-gnu"}
executable = tvm.compile(from_onnx(model), target=tvm.target.Target(target))
linker = None if arch == "amd64" else cc.cross_compiler("aarch64-linux-gnu-g++")
executable.export_library(f"probe-{arch}.so", fcompile=linker)
"""
RUN = """
import sys, platform, numpy as np, tvm
from tvm.runtime import vm
lib = tvm.runtime.load_module(sys.argv[1])
machine = vm.VirtualMachine(lib, tvm.cpu())
x = np.arange(8, dtype=np.float32).reshape(2, 4)
print(platform.machine(), machine["main"](tvm.runtime.tensor(x)).numpy().round(4).tolist())
"""


def _expected() -> list[list[float]]:
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    return np.maximum(x @ w, 0).round(4).tolist()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def _tvm_round_trip(client: Any, workdir: Path, arch: str) -> tuple[str, list[list[float]]]:
    executor = DockerExecutor(client=client)
    (workdir / "compile.py").write_text(COMPILE)
    (workdir / "run.py").write_text(RUN)
    executor.run(["python", "compile.py", arch], image="compile-tvm", workdir=workdir)
    assert (workdir / f"probe-{arch}.so").stat().st_uid == workdir.stat().st_uid
    out = io.StringIO()
    executor.run(
        ["python", "run.py", f"probe-{arch}.so"],
        image=f"target-{arch}",
        workdir=workdir,
        stdout=out,
        timeout=600,
    )
    machine, values = out.getvalue().strip().split(" ", 1)
    return machine, json.loads(values)


def test_tvm_module_from_compile_tvm_runs_in_the_runtime_only_target(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("compile-tvm")
    require_image("target-amd64")
    machine, values = _tvm_round_trip(docker_client, workdir, "amd64")
    assert machine == "x86_64" and values == _expected()


def test_aarch64_module_cross_compiled_runs_in_the_emulated_arm64_target(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("compile-tvm")
    require_image("target-arm64")
    machine, values = _tvm_round_trip(docker_client, workdir, "arm64")
    assert machine == "aarch64" and values == _expected()


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_every_runtime_imports_in_the_target_image(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    arch: str,
) -> None:
    # onnxruntime >= 1.28 segfaults on import under qemu-user: arm64 is pinned to 1.27
    require_image(f"target-{arch}")
    probe = (
        "import platform, onnxruntime, tvm, ai_edge_litert.interpreter as litert, kenning\n"
        "print(platform.machine(), onnxruntime.__version__, tvm.__version__,"
        " hasattr(litert, 'Interpreter'), kenning.__version__)"
    )
    out = io.StringIO()
    DockerExecutor(client=docker_client).run(
        ["python", "-c", probe], image=f"target-{arch}", stdout=out, timeout=300
    )
    machine, ort, tvm_version, has_interpreter, _ = out.getvalue().split()
    assert machine == {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    assert has_interpreter == "True" and tvm_version.startswith("0.27")
    if arch == "arm64":
        assert ort.startswith("1.27")


def test_mxnet_image_runs_kenning_mxnet_worker(
    docker_client: Any,
    require_image: Callable[[str], None],
    ours: Callable[[], list[Any]],
    workdir: Path,
) -> None:
    require_image("mxnet")
    worker = "/opt/venv/lib/python3.11/site-packages/kenning/onnxconverters/mxnet_worker.py"
    executor = DockerExecutor(client=docker_client)
    np.save(workdir / "x.npy", np.random.default_rng(0).random((1, 64), dtype=np.float32))
    steps = (
        ["probe", "--result", "probe.json"],
        ["export", "--model", "mlp", "--input", "x.npy", "--reference", "ref.npy",
         "--onnx", "mlp.onnx", "--result", "export.json"],
        ["import", "--onnx", "mlp.onnx", "--input", "x.npy", "--output", "out.npy",
         "--result", "import.json"],
    )  # fmt: skip
    for step in steps:
        executor.run(["python", worker, *step], image="mxnet", workdir=workdir)
    probe = json.loads((workdir / "probe.json").read_text())
    assert probe["ok"] and probe["mxnet"] == "1.9.1" and probe["numpy"].startswith("1.23")
    for result in ("export.json", "import.json"):
        assert json.loads((workdir / result).read_text())["ok"], result
    np.testing.assert_allclose(np.load(workdir / "out.npy"), np.load(workdir / "ref.npy"), 1e-5)


def test_built_images_record_the_lock_files_they_came_from(docker_client: Any) -> None:
    built = []
    for name in CATALOGUE:
        try:
            info = image_info(name, docker_client)
        except ImageNotFoundError:  # not built here (CI builds all but base, train-tensorflow)
            continue
        built.append(name)
        assert info.lock_sha256 == lock_hashes(name), (
            f"{name} was built from other lock files: python -m kenning.toolchain build {name}"
        )
        assert info.kenning_version and info.git_commit and info.sources_sha256
    if not built:
        missing("docker", "no kenning image is built (run .ci/setup-docker)")


def test_a_changed_lock_file_marks_the_image_stale(
    docker_client: Any, require_image: Callable[[str], None], tmp_path: Path
) -> None:
    require_image("target-amd64")
    shutil.copytree(work_tree() / "images", tmp_path / "images")
    lock = tmp_path / "images" / "target-amd64" / "requirements.lock"
    assert stale_locks("target-amd64", docker_client, tmp_path) == []
    lock.write_text(lock.read_text().replace("onnxruntime==", "onnxruntime==0.0.0+"))
    assert stale_locks("target-amd64", docker_client, tmp_path) == ["requirements.lock"]

"""TVMRuntime: runtime-library-only loading, batch splitting, target-side bytes, bad input."""
# ruff: noqa: F811 - pytest fixtures imported from conftest_compilers are redefined as arguments

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_compilers import TORCH_EXPORT_WARNINGS, cc_digits, cc_torch_cnn  # noqa: F401

from kenning.compilers.tvm import TVMCompiler
from kenning.core.iospec import IOSpec
from kenning.runtimes.tvm import TVMRuntime
from kenning.utils.errors import ModelError

pytestmark = TORCH_EXPORT_WARNINGS


@pytest.fixture(scope="module")
def batch4_so(cc_torch_cnn, cc_digits, tmp_path_factory) -> Path:
    """The digits CNN compiled for a static batch of 4."""
    path = tmp_path_factory.mktemp("tvm") / "digits-b4.so"
    TVMCompiler(cc_digits, path, target="llvm", batch_size=4).compile_wrapper(cc_torch_cnn)
    return path


def test_runtime_library_only(batch4_so, cc_torch_cnn, cc_digits, tmp_path) -> None:
    """Load and run with TVM_USE_RUNTIME_LIB=1: no compiler library, no framework."""
    x, _ = cc_digits.load_subset("validation")
    inputs = cc_torch_cnn.preprocess_input(x[:6])
    np.save(tmp_path / "x.npy", inputs)
    code = f"""
import json, sys
import numpy as np
from kenning.runtimes.tvm import TVMRuntime
rt = TVMRuntime(num_threads=1)
rt.load_model({str(batch4_so)!r})
out = rt.infer([np.load({str(tmp_path / "x.npy")!r})])[0]
np.save({str(tmp_path / "y.npy")!r}, out)
import tvm.base
print(json.dumps({{"runtime_only": tvm.base._RUNTIME_ONLY, "batch": rt.batch,
    "compiler_loaded": any("libtvm_compiler" in line for line in open("/proc/self/maps")),
    "frameworks": [m for m in ("tensorflow", "onnxruntime", "onnx") if m in sys.modules]}}))
"""
    env = dict(os.environ, TVM_USE_RUNTIME_LIB="1")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts == {
        "runtime_only": True,
        "batch": 4,
        "compiler_loaded": False,
        "frameworks": [],
    }
    out = np.load(tmp_path / "y.npy")
    assert out.shape == (6, 10)  # 6 samples: one chunk of 4, one padded chunk of 2
    np.testing.assert_allclose(out, cc_torch_cnn.run_inference(inputs), atol=1e-4)


def test_target_side_steps(batch4_so, cc_torch_cnn, cc_digits, tmp_path) -> None:
    target = tmp_path / "board" / "model.so"
    target.parent.mkdir()
    shutil.copy(IOSpec.path_for(batch4_so), IOSpec.path_for(target))
    runtime = TVMRuntime(target)
    runtime.prepare_model(batch4_so.read_bytes())
    spec = IOSpec.load(batch4_so)
    x, _ = cc_digits.load_subset("validation")
    inputs = cc_torch_cnn.preprocess_input(x[:4])
    runtime.prepare_input(spec.inputs_to_bytes([inputs]))
    runtime.run()
    out = spec.outputs_from_bytes(runtime.upload_output())[0]
    np.testing.assert_allclose(out, cc_torch_cnn.run_inference(inputs), atol=1e-4)
    assert runtime.infer([inputs[:1]])[0].shape == (1, 10)


def test_not_a_library(batch4_so, tmp_path) -> None:
    path = tmp_path / "junk.so"
    path.write_bytes(b"\x7fELF not really")
    shutil.copy(IOSpec.path_for(batch4_so), IOSpec.path_for(path))
    with pytest.raises(ModelError, match=r"junk\.so is not an ELF shared library"):
        TVMRuntime().load_model(path)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_library_cut_short_is_refused_before_the_loader_maps_it(
    batch4_so, tmp_path, keep: float
) -> None:
    """A truncated upload used to kill the process with SIGBUS; now it is an error."""
    data = batch4_so.read_bytes()
    path = tmp_path / "cut.so"
    path.write_bytes(data[: int(len(data) * keep)])
    shutil.copy(IOSpec.path_for(batch4_so), IOSpec.path_for(path))
    with pytest.raises(ModelError, match=r"cut\.so is cut short: its .* ends at byte \d+"):
        TVMRuntime().load_model(path)


@pytest.mark.slow
def test_a_server_runs_each_tvm_model_it_is_sent(batch4_so, cc_torch_cnn, cc_digits, tmp_path):
    """Two libraries sent in turn to one server: each answers with its own accuracy.

    A library loaded twice from one path is the first one again: the server once kept
    running the first model whatever was sent after it.
    """
    import threading

    from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN
    from kenning.runtimeprotocols.network import NetworkProtocol
    from kenning.runtimeprotocols.server import InferenceServer
    from kenning.runtimeprotocols.session import RemoteSession

    untrained = PyTorchDigitsCNN(tmp_path / "random.pth", cc_digits, from_file=False)
    untrained.prepare_model()
    random_so = tmp_path / "random-b4.so"
    TVMCompiler(cc_digits, random_so, target="llvm", batch_size=4).compile_wrapper(untrained)
    protocol = NetworkProtocol(port=0, timeout=30.0)
    protocol.initialize_server()
    server = InferenceServer(protocol, TVMRuntime(tmp_path / "target" / "model.so"),
                             idle_timeout=10.0)  # fmt: skip
    thread = threading.Thread(target=server.serve, kwargs={"initialize": False, "poll": 0.05},
                              daemon=True)  # fmt: skip
    thread.start()
    x, y = cc_digits.load_subset("validation")
    x, y = x[:200], y[:200]

    def accuracy(library: Path) -> float:
        client = NetworkProtocol(port=protocol.address[1], timeout=30.0)
        with RemoteSession(client, cc_torch_cnn, IOSpec.load(library), library) as session:
            scores = np.concatenate([session.infer(x[i : i + 4]).outputs
                                     for i in range(0, len(x), 4)])  # fmt: skip
        return float((scores.argmax(1) == y).mean())

    try:
        trained_first = accuracy(batch4_so)
        random_then = accuracy(random_so)
        trained_again = accuracy(batch4_so)
    finally:
        server.stop_event.set()
        thread.join(10)
    assert trained_first > 0.9 and trained_again == trained_first
    assert random_then < 0.5, "the server ran the first library again"

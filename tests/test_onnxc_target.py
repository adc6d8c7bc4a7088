"""Compiler onnx-c with ``--target``: the board's own limits, and its firmware in the folder.

A model the board cannot hold is refused from the ONNX file alone, before any C is generated
or built (the message gives what it needs and what the board has); one that fits gets
``firmware.elf`` built for the board, whose footprint ``model.json`` records, and that
firmware serves the model under QEMU with outputs matching ONNX Runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mcuboards import client, need_toolchain, started
from ownmodels import onnx_mlp
from test_onnxc import wide_activations

from kenning.compilers.onnxc import ONNXToCCompiler
from kenning.core.iospec import IOSpec
from kenning.utils.errors import ConfigurationError


def test_a_model_over_the_boards_ram_is_refused_before_building(tmp_path: Path) -> None:
    model = wide_activations(tmp_path, 128)  # two 4 MiB activations
    folder = tmp_path / "wide.onnx-c"
    with pytest.raises(ConfigurationError) as caught:
        ONNXToCCompiler(None, folder, target="mps2-an386").compile(
            model, IOSpec(inputs=[], outputs=[])
        )
    message = str(caught.value)
    assert "the board mps2-an386 has 4,194,304" in message
    assert "activations need 8,388,608 bytes of RAM" in message
    assert not folder.exists()


def test_an_unknown_board_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="mps2-an386, mps3-an547"):
        ONNXToCCompiler(None, tmp_path / "x.onnx-c", target="stm32-nope")


@pytest.mark.slow
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_the_firmware_built_for_a_board_serves_the_model(tmp_path: Path, board: str) -> None:
    need_toolchain()
    import onnxruntime as ort

    model = onnx_mlp(tmp_path)
    folder = tmp_path / "mlp.onnx-c"
    spec = ONNXToCCompiler(None, folder, target=board).compile(
        model, IOSpec(inputs=[], outputs=[])
    )
    summary = json.loads((folder / "model.json").read_text())
    footprint = summary["footprint"]
    assert summary["target"]["board"] == board
    assert footprint["flash"] >= summary["weights_bytes"] and footprint["ram"] > 0
    session = ort.InferenceSession(str(model))
    rng = np.random.default_rng(5)
    with started(folder / "firmware.elf", board, tmp_path / "run") as (running, secret_file):
        with client(running.line, secret_file) as host:
            info = host.upload_model(folder)
            assert info["sha256"] == summary["onnx_sha256"] and info["board"] == board
            for _ in range(5):
                x = [rng.standard_normal(t.concrete_shape(1)).astype(t.dtype) for t in spec.inputs]
                host.upload_input(spec.inputs_to_bytes(x))
                host.request_processing()
                got = spec.outputs_from_bytes(bytes(host.download_output()))
                names = [i.name for i in session.get_inputs()]
                want = session.run(None, dict(zip(names, x, strict=True)))
                for g, w in zip(got, want, strict=True):
                    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)

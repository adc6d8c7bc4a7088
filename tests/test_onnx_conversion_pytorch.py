"""PyTorch ONNX round trips: torch.onnx.export out, onnx2torch (with kenning additions) in."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from capabilities import requires
from conftest_onnx_conversion import onnx_output
from onnx import TensorProto, helper

from kenning.core.onnxresults import ModelReport, Status, UnsupportedOperatorError
from kenning.onnxconverters.pytorch import MODELS, PyTorchONNXConversion

pytestmark = requires(
    "converters",
    importlib.util.find_spec("onnx2torch") is not None,
    "onnx2torch is not installed (requirements-converters.txt)",
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelReport]:
    folder = tmp_path_factory.mktemp("pytorch-onnx")
    return {r.model: r for r in PyTorchONNXConversion().check_conversions(folder)}


def test_the_issue_architectures_are_all_there() -> None:
    names = {name for name, _, _ in MODELS}
    assert {"plain_cnn", "resnet_small", "mobilenet_small", "lstm", "gru", "rnn"} <= names
    assert "transformer_encoder" in names
    assert len(names) >= 6


@pytest.mark.parametrize("name", [name for name, _, _ in MODELS])
def test_every_model_exports_and_imports(reports: dict[str, ModelReport], name: str) -> None:
    report = reports[name]
    assert report.export.status is Status.SUPPORTED, report.export.detail
    assert report.imported.status is Status.SUPPORTED, report.imported.detail
    # independently of the runner: the file is valid and ONNX Runtime matches torch
    from kenning.onnxconverters import _torch_models

    shape = next(s for n, _, s in MODELS if n == name)
    x = np.random.default_rng(7).uniform(0, 1, shape).astype(np.float32)
    with torch.no_grad():
        expected = _torch_models.build(name)(torch.from_numpy(x)).numpy()
    assert report.onnx_path is not None
    np.testing.assert_allclose(onnx_output(report.onnx_path, x), expected, rtol=1e-4, atol=1e-5)
    opset = {o.domain: o.version for o in onnx.load(str(report.onnx_path)).opset_import}
    assert opset[""] == 18


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_recurrent_layers_with_states_import(tmp_path: Path, kind: str) -> None:
    """kenning's onnx2torch converters reorder gates right for both directions and all outputs."""

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(6, 5, bidirectional=True)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y, state = self.rnn(x)
            h = state[0] if kind == "LSTM" else state
            return y, h

    torch.manual_seed(3)
    net = Net().eval()
    x = torch.rand(7, 2, 6)
    path = tmp_path / "net.onnx"
    converter = PyTorchONNXConversion()
    converter.onnx_export(net, path, x.numpy())
    imported = converter.onnx_import(path)
    with torch.no_grad():
        expected = net(x)
        got = imported(x)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_an_operator_onnx2torch_lacks_is_named(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Det", ["x"], ["y"])],
        "det",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    path = tmp_path / "det.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(UnsupportedOperatorError) as caught:
        PyTorchONNXConversion().onnx_import(path)
    assert caught.value.operator == "Det"

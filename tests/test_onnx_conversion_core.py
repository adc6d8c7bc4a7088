"""The ONNXConversion runner, comparisons and the RST table, on a tiny real converter.

The "framework" here is numpy: a model is an affine map ``x @ w + b``. Export
writes a real ONNX graph (MatMul, Add) that ONNX Runtime runs; import reads the
initializers back. Failures are injected around that real round trip.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx
import pytest
from conftest_onnx_conversion import onnx_output, sphinx_build
from onnx import TensorProto, helper, numpy_helper

from kenning.core.onnxconversion import ONNXConversion, compare, run_onnxruntime
from kenning.core.onnxresults import (
    ConversionError,
    DirectionResult,
    EnvironmentUnavailableError,
    ModelEntry,
    ModelReport,
    OutputMismatchError,
    Status,
    UnsupportedOperatorError,
)
from kenning.core.registry import load_class
from kenning.onnxconverters import support_table


def _affine(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w": rng.normal(size=(4, 3)).astype(np.float32),
        "b": rng.normal(size=3).astype(np.float32),
    }


class NumpyConversion(ONNXConversion):
    """Affine numpy models; names choose where a failure is injected."""

    framework: ClassVar[str] = "numpy"

    def models(self) -> list[ModelEntry]:
        def broken() -> Any:
            raise RuntimeError("cannot build")

        return [
            ModelEntry("good", lambda: _affine(0), (2, 4)),
            ModelEntry("broken_build", broken, (2, 4)),
            ModelEntry("custom_op", lambda: {**_affine(1), "op": "Hardmax2"}, (2, 4)),
            ModelEntry("wrong_import", lambda: {**_affine(2), "skew": 1.0}, (2, 4)),
            ModelEntry("unsupported_import", lambda: {**_affine(3), "refuse": True}, (2, 4)),
            ModelEntry("also_good", lambda: _affine(4), (2, 4)),
        ]

    def run(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        return inputs @ model["w"] + model["b"]

    def onnx_export(self, model: Any, path: Path, example: np.ndarray) -> None:
        nodes = [
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node(model.get("op", "Add"), ["xw", "b"], ["y"]),
        ]
        graph = helper.make_graph(
            nodes,
            "affine",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(example.shape))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [example.shape[0], 3])],
            [numpy_helper.from_array(model["w"], "w"), numpy_helper.from_array(model["b"], "b")],
        )
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        proto.doc_string = "refuse" if model.get("refuse") else str(model.get("skew", 0.0))
        onnx.save(proto, str(path))

    def onnx_import(self, path: Path) -> Any:
        proto = onnx.load(str(path))
        if proto.doc_string == "refuse":
            raise UnsupportedOperatorError("MatMul", "test importer")
        weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        return {"w": weights["w"], "b": weights["b"] + float(proto.doc_string)}


def _by_model(reports: list[ModelReport]) -> dict[str, ModelReport]:
    return {r.model: r for r in reports}


def test_every_model_gets_a_status_and_failures_do_not_stop_the_others(tmp_path: Path) -> None:
    seen: list[int] = []
    reports = _by_model(NumpyConversion().check_conversions(tmp_path / "out", advance=seen.append))
    assert len(seen) == 6
    for name in ("good", "also_good"):
        assert reports[name].export.status is Status.SUPPORTED
        assert reports[name].imported.status is Status.SUPPORTED
        assert reports[name].export.max_error is not None and reports[name].export.max_error < 1e-5
        path = tmp_path / "out" / f"{name}.onnx"
        assert reports[name].onnx_path == path
        x = np.random.default_rng(0).uniform(0, 1, (2, 4)).astype(np.float32)
        np.testing.assert_allclose(
            onnx_output(path, x),
            x @ _affine(0 if name == "good" else 4)["w"]
            + _affine(0 if name == "good" else 4)["b"],
            rtol=1e-5,
        )

    broken = reports["broken_build"]
    assert broken.export.status is Status.FAILED
    assert broken.export.detail == "build: cannot build"
    assert broken.imported.status is Status.NOT_TESTED
    assert broken.onnx_path is None

    custom = reports["custom_op"]
    assert custom.export.status is Status.UNSUPPORTED
    assert custom.export.detail.startswith("Hardmax2")
    # the file exists, so the import is still tried
    assert custom.imported.status is Status.SUPPORTED

    wrong = reports["wrong_import"]
    assert wrong.export.status is Status.SUPPORTED
    assert wrong.imported.status is Status.FAILED
    assert wrong.imported.detail.startswith("import comparison: max abs difference")

    refused = reports["unsupported_import"]
    assert refused.imported.status is Status.UNSUPPORTED
    assert refused.imported.detail == "MatMul (test importer)"


def test_only_runs_the_named_models(tmp_path: Path) -> None:
    reports = NumpyConversion().check_conversions(tmp_path, only={"also_good"})
    assert [r.model for r in reports] == ["also_good"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["also_good.onnx"]


def test_an_unavailable_environment_marks_both_directions(tmp_path: Path) -> None:
    class Missing(NumpyConversion):
        def models(self) -> list[ModelEntry]:
            def unavailable() -> Any:
                raise EnvironmentUnavailableError("no venv at /nowhere")

            return [ModelEntry("m", unavailable, (2, 4))]

    (report,) = Missing().check_conversions(tmp_path)
    assert report.export.status is Status.UNAVAILABLE
    assert report.imported.status is Status.UNAVAILABLE
    assert report.imported.detail == "no venv at /nowhere"


def test_compare() -> None:
    reference = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)
    assert compare(reference + 1e-4, reference, rtol=1e-3, atol=0.0) == pytest.approx(
        1e-4, rel=1e-2
    )
    with pytest.raises(OutputMismatchError, match="max abs difference"):
        compare(reference + 0.01, reference, rtol=1e-3, atol=1e-5)
    with pytest.raises(OutputMismatchError, match="shape"):
        compare(reference.T, reference, rtol=1e-3, atol=1e-5)
    with pytest.raises(OutputMismatchError, match="near zero"):
        compare(reference * 0, reference * 1e-12, rtol=1e-3, atol=1e-5)
    with pytest.raises(OutputMismatchError):
        compare(reference * np.nan, reference, rtol=1e-3, atol=1e-5)


def test_run_onnxruntime_rejects_broken_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConversionError, match=r"onnx.checker rejected bad.onnx"):
        run_onnxruntime(bad, np.zeros((1, 4), np.float32))


def test_support_table_builds_with_sphinx(tmp_path: Path) -> None:
    import sphinx  # noqa: F401 - the table must build with Sphinx (dev extra)

    ok = DirectionResult(Status.SUPPORTED, max_error=1.5e-7)
    reports = [
        ModelReport("PyTorch", "resnet_small", tmp_path / "a.onnx", ok, ok),
        ModelReport(
            "TensorFlow",
            "odd_name_",
            None,
            DirectionResult(Status.FAILED, "export: *bad* `thing` | x_ [1] <y> \\ end"),
            DirectionResult(Status.NOT_TESTED, "export produced no ONNX file"),
        ),
        ModelReport(
            "MXNet",
            "mlp",
            None,
            DirectionResult(Status.UNAVAILABLE, "no venv at /x_y"),
            DirectionResult(Status.UNSUPPORTED, "LSTM (onnx2torch)"),
        ),
    ]
    text = support_table.render(reports, {"PyTorch": "torch 2_13 *x*"}, "python -m x a_b")
    assert "2 of 6 conversions supported" in text
    assert "     - failed: export: \\*bad\\* \\`thing\\` \\| x\\_ \\[1\\] \\<y\\> \\\\ end" in text
    rst = tmp_path / "onnx-support.rst"
    support_table.write(rst, text)
    done = sphinx_build(rst, tmp_path / "sphinx")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "sphinx" / "html" / "index.html").read_text()
    assert "export: *bad* `thing` | x_ [1] &lt;y&gt; \\ end" in html
    assert "unsupported: LSTM (onnx2torch)" in html


def test_short_names_resolve_without_importing_frameworks() -> None:
    code = (
        "import sys\n"
        "from kenning.core.registry import load_class\n"
        "for n in ('pytorch', 'tensorflow', 'mxnet'):\n"
        "    load_class(n, 'onnxconverter')().models()\n"
        "import kenning.scenarios.onnx_conversion\n"
        "heavy = ('tensorflow', 'torch', 'mxnet', 'onnxruntime', 'onnx2torch', 'onnx2tf')\n"
        "print([m for m in heavy"
        " if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert load_class("pytorch", "onnxconverter").__name__ == "PyTorchONNXConversion"

"""Labels from metadata and the Pareto front, on real results files."""

from __future__ import annotations

from pathlib import Path

from conftest_report import shared_report_runs  # noqa: F401

from kenning.core.results import FrameworkInfo, load_results
from kenning.reports.comparison import comparison_section, entries, pareto_front
from kenning.reports.metadata import board, compiler, labels, model_name, runtime


def test_pareto_front_keeps_the_undominated() -> None:
    # (latency, accuracy): 0 fastest, 1 most accurate, 2 dominated by 0, 3 equal to 0
    assert pareto_front([1.0, 5.0, 2.0, 1.0], [0.90, 0.95, 0.85, 0.90]) == [0, 1, 3]
    assert pareto_front([3.0], [0.5]) == [0]
    assert pareto_front([], []) == []


def test_labels_come_from_metadata(report_runs: dict[str, Path]) -> None:
    torch = load_results(report_runs["torch"])
    batch8 = load_results(report_runs["torch_batch8"])
    tf = load_results(report_runs["tf"])
    host = torch.host.hostname
    assert labels([torch, tf]) == [
        f"PyTorchDigitsCNN · torch · {host}",
        f"TensorFlowDigitsCNN · tensorflow · {host}",
    ]
    # only what tells two runs apart is added: here the batch size
    assert labels([torch, batch8, tf])[:2] == [
        f"PyTorchDigitsCNN · torch · {host} · batch 1",
        f"PyTorchDigitsCNN · torch · {host} · batch 8",
    ]
    # the same run twice: the position
    assert labels([torch, torch]) == [
        f"PyTorchDigitsCNN · torch · {host} · #1",
        f"PyTorchDigitsCNN · torch · {host} · #2",
    ]
    compiled = torch.model_copy(deep=True)
    compiled.frameworks += [
        FrameworkInfo(role="compiler", name="tvm", version="0.27.0"),
        FrameworkInfo(role="runtime", name="tvm", version="0.27.0"),
    ]
    compiled.provenance = {"board": "rpi4"}
    assert (compiler(compiled), runtime(compiled), board(compiled)) == (
        "tvm 0.27.0",
        "tvm 0.27.0",
        "rpi4",
    )
    assert labels([compiled]) == ["PyTorchDigitsCNN · tvm · tvm · rpi4"]


def test_a_scenario_model_is_named_as_the_scenario_names_it(
    report_runs: dict[str, Path], tmp_path: Path
) -> None:
    # every model file read by the generic wrappers would be "ONNXModel" in the report
    own = load_results(report_runs["torch"]).model_copy(deep=True)
    own.model.wrapper = "kenning.modelwrappers.onnx.ONNXModel"
    assert model_name(own) == "ONNXModel"  # a run of the wrapper alone
    own.provenance = {"model": "resnet", "deployment": "ort-int8", "board": "rpi4"}
    assert model_name(own) == "resnet"
    assert labels([own]) == ["ort-int8 · resnet · rpi4"]
    path = tmp_path / "ort-int8.json"
    path.write_text(own.dump())
    section = str(comparison_section(entries([(path, own)])))
    assert "resnet" in section and "ONNXModel" not in section

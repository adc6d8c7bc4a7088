"""Every number in a rendered report equals an independent recomputation from its results.

The results files come from real runs of the scenarios (see conftest_report).
Each report is rendered through the command line, parsed back from its text
(RST, HTML, Markdown), and every table is checked against numpy computations
on the raw JSON (tests/report_checks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_report import PARSERS, load_json, render, shared_report_runs  # noqa: F401
from report_checks import check_tables

pytestmark = pytest.mark.slow

SUFFIX = {"rst": ".rst", "html": ".html", "md": ".md"}


@pytest.mark.parametrize("fmt", ["rst", "html", "md"])
def test_comparison_of_three_real_runs(
    report_runs: dict[str, Path],
    tmp_path: Path,
    fmt: str,
) -> None:
    out = tmp_path / fmt / f"compare{SUFFIX[fmt]}"
    sources = [report_runs[k] for k in ("torch", "tf", "torch_batch8")]
    render(
        *sources,
        "Digits: PyTorch, TensorFlow, batch 8",
        out,
        "--report-types",
        "performance",
        "classification",
    )
    doc = PARSERS[fmt](out.read_text())
    raws = {p.name: load_json(p) for p in sources}
    # comparison (2) + per run: run, performance, classification summary, counts, per class
    assert check_tables(doc, raws) == 2 + 3 * 6
    # labels come from the metadata: the two PyTorch runs differ only in batch size
    assert "PyTorchDigitsCNN · torch · " in doc.text
    assert "· batch 8" in doc.text and "· batch 1" in doc.text
    # every figure the page names exists: 7 comparison plots + 4 per run
    assert len(doc.images) == 7 + 3 * 4
    for src in doc.images:
        assert (out.parent / src).is_file(), src
        assert (out.parent / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("fmt", ["rst", "html", "md"])
def test_single_run(report_runs: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"tf{SUFFIX[fmt]}"
    render(report_runs["tf"], "TensorFlow digits", out)
    doc = PARSERS[fmt](out.read_text())
    raw = load_json(report_runs["tf"])
    assert check_tables(doc, {"tf.json": raw}) == 6
    assert "GPU usage and GPU memory: not recorded" in doc.text
    assert not raw["system"]["gpu_available"]
    assert len(doc.images) == 4


def test_only_requested_sections(report_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "perf.md"
    render(report_runs["torch"], "Performance only", out, "--report-types", "performance")
    doc = PARSERS["md"](out.read_text())
    assert set(doc.tables) == {
        "Run information",
        "Performance statistics",
        "Figures (ms per call; [99% confidence interval])",
    }
    assert check_tables(doc, {"torch.json": load_json(report_runs["torch"])}) == 3


def test_partial_run_is_rendered_and_flagged(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    """A run that died after 100 samples, made from a real run by a documented cut.

    The cut keeps the first 100 samples, marks the file ``partial`` with an
    error, and drops the stored metrics (as a run killed before its final
    write would): the report must recompute everything from the samples.
    """
    raw = load_json(report_runs["torch"])
    raw["samples"] = raw["samples"][:100]
    raw.update(
        status="partial",
        error="inference failed on sample 123: boom",
        metrics=None,
        figures={},
        verdict=None,
    )
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(raw))
    out = tmp_path / "partial.html"
    render(partial, "Partial run", out)
    doc = PARSERS["html"](out.read_text())
    assert check_tables(doc, {"partial.json": raw}) == 6
    planned = max(raw["measure"]["min_samples"], raw["dataset"]["num_samples"])
    distinct = len({s["index"] for s in raw["samples"]})
    note = (
        f"This run did not complete (status: partial): 100 of {planned} samples were "
        f"measured ({distinct} distinct of the {raw['dataset']['num_samples']} in the data)"
    )
    assert note in doc.text
    assert "inference failed on sample 123: boom" in doc.text


def test_gpu_series_when_recorded(report_runs: dict[str, Path], tmp_path: Path) -> None:
    """GPU load is shown when recorded; this machine has no GPU, so a real run is given one.

    The transformation: ``gpu_available`` true, GPU usage = the mean CPU usage
    at each sampling time, GPU memory = the RAM used at that time.
    """
    raw = load_json(report_runs["tf"])
    system = raw["system"]
    system["gpu_available"] = True
    system["gpu_percent"] = [sum(c) / len(c) for c in system["cpu_percent"]]
    system["gpu_memory_bytes"] = list(system["ram_used_bytes"])
    made = tmp_path / "gpu.json"
    made.write_text(json.dumps(raw))
    out = tmp_path / "gpu.rst"
    render(made, "With a GPU", out, "--report-types", "performance")
    doc = PARSERS["rst"](out.read_text())
    assert check_tables(doc, {"gpu.json": raw}) == 3
    stats = {(r[0], r[1]) for r in doc.tables["Performance statistics"]}
    assert {("GPU usage", "%"), ("GPU memory", "MiB")} <= stats
    assert "not recorded" not in doc.text
    assert sorted(Path(src).name for src in doc.images) == [
        "gpu_host_cpu.png",
        "gpu_host_gpu.png",
        "gpu_host_gpu_memory.png",
        "gpu_host_ram.png",
        "gpu_inference_time.png",
    ]

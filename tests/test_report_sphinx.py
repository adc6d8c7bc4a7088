"""The RST reports build with Sphinx with warnings as errors (``sphinx-build -W``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_report import render, shared_report_runs  # noqa: F401

pytestmark = pytest.mark.slow


def test_sphinx_builds_reports_with_warnings_as_errors(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    import sphinx  # noqa: F401 - the report must build with Sphinx (dev extra)

    source = tmp_path / "source"
    generated = source / "generated"
    sources = [report_runs[k] for k in ("torch", "tf", "torch_batch8")]
    # as the README shows: images in a folder of the Sphinx tree, paths from its root
    render(
        report_runs["torch"],
        "PyTorch digits",
        generated / "single.rst",
        "--img-dir",
        generated / "img",
        "--root-dir",
        source,
        "--report-types",
        "performance",
        "classification",
    )
    render(
        *sources,
        "Three digits runs",
        generated / "compare.rst",
        "--img-dir",
        generated / "img",
        "--root-dir",
        source,
    )
    # without --root-dir the images are referred to relative to the page
    raw = json.loads(report_runs["tf"].read_text())
    raw["samples"] = raw["samples"][:50]
    raw.update(status="partial", error="stopped by the test")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(raw))
    render(partial, "A partial run", source / "other" / "partial.rst")
    (source / "conf.py").write_text('project = "kenning reports"\n')
    (source / "index.rst").write_text(
        "Reports\n=======\n\n.. toctree::\n\n   generated/single\n   generated/compare\n"
        "   other/partial\n"
    )
    build = tmp_path / "build"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-q",
            str(source),
            str(build),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    # Sphinx copied every plot the three pages refer to
    plots = {p.name for p in (generated / "img").glob("*.png")}
    plots |= {p.name for p in (source / "other" / "img").glob("*.png")}
    copied = {p.name for p in (build / "_images").glob("*.png")}
    assert plots and plots == copied
    page = (build / "other" / "partial.html").read_text()
    assert "This run did not complete (status: partial): 50 of" in page

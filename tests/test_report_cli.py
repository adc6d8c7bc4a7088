"""The render_report command line: clear errors, formats, layout checks, progress."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_kenning
from conftest_report import load_json, render, shared_report_runs  # noqa: F401

pytestmark = pytest.mark.slow

SCENARIO = "kenning.scenarios.render_report"


def _fails(*args: str | Path) -> str:
    """Run the scenario expecting kenning's one-line error; return that line."""
    done = run_kenning([SCENARIO, *args])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_a_file_that_is_not_a_results_file(tmp_path: Path) -> None:
    other = tmp_path / "package.json"
    other.write_text(json.dumps({"name": "left-pad", "version": "1.3.0"}))
    line = _fails(other, "Report", tmp_path / "out.rst")
    assert f"{other} is not a kenning results file" in line
    assert not (tmp_path / "out.rst").exists()


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert f"{png} is not a kenning results file (not JSON" in _fails(png, "R", tmp_path / "o.rst")


def test_unknown_schema_version(report_runs: dict[str, Path], tmp_path: Path) -> None:
    raw = load_json(report_runs["torch"])
    raw["schema_version"] = 99
    future = tmp_path / "future.json"
    future.write_text(json.dumps(raw))
    line = _fails(future, "Report", tmp_path / "out.html")
    assert "has results schema version 99" in line and "reads versions 1, 2" in line


def test_every_bad_file_is_named_at_once(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.json"
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    line = _fails(report_runs["torch"], missing, broken, "Report", tmp_path / "out.md")
    assert "2 of 3 results files cannot be read" in line
    assert str(missing) in line and str(broken) in line


def test_html_images_must_stay_in_the_report_folder(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    line = _fails(
        report_runs["torch"],
        "R",
        tmp_path / "site" / "index.html",
        "--img-dir",
        tmp_path / "elsewhere",
    )
    assert "self-contained" in line and "--img-dir" in line


def test_rst_images_must_be_inside_the_root(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    line = _fails(
        report_runs["torch"],
        "R",
        tmp_path / "docs" / "r.rst",
        "--img-dir",
        tmp_path / "img",
        "--root-dir",
        tmp_path / "docs",
    )
    assert "--img-dir" in line and "is not inside --root-dir" in line


def test_unknown_format_and_report_type_are_usage_errors(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    for extra in (["--format", "pdf"], ["--report-types", "detection"]):
        done = run_kenning([SCENARIO, report_runs["torch"], "R", tmp_path / "o.rst", *extra])
        assert done.returncode == 2 and "invalid choice" in done.stderr


def test_format_from_suffix_and_flag(report_runs: dict[str, Path], tmp_path: Path) -> None:
    render(report_runs["torch"], "Digits", tmp_path / "a.md", "--report-types", "classification")
    assert (tmp_path / "a.md").read_text().startswith("# Digits\n")
    render(
        report_runs["torch"],
        "Digits",
        tmp_path / "b.txt",
        "--format",
        "html",
        "--report-types",
        "classification",
    )
    assert (tmp_path / "b.txt").read_text().startswith("<!DOCTYPE html>")
    render(report_runs["torch"], "Digits", tmp_path / "c.rst", "--report-types", "classification")
    assert (tmp_path / "c.rst").read_text().startswith("======\nDigits\n======\n")
    # the default image folder sits beside the page, file names led by the page's name
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == [
        "a_confusion_matrix.png",
        "b_confusion_matrix.png",
        "c_confusion_matrix.png",
    ]


def test_progress_is_shown_on_a_terminal(
    report_runs: dict[str, Path],
    tmp_path: Path,
) -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            SCENARIO,
            str(report_runs["torch"]),
            str(report_runs["tf"]),
            "Two runs",
            str(tmp_path / "r.html"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, TERM="xterm", COLUMNS="120"),
    )
    os.close(secondary)
    seen = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(primary)
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    # 7 comparison plots and 4 per run
    assert "rendering plots" in text and "15/15" in text

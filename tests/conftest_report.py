"""Shared by the report tests: real results files, and parsers for rendered reports.

The results come from the real scenarios, run as a user would
(``model_training`` then ``inference_performance``) on the digits models:
PyTorch, TensorFlow, and PyTorch again with ``--inference-batch-size 8``.
They are made once per session (the cache below keeps test modules that
each import the fixture from training twice).
"""

from __future__ import annotations

import html.parser
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import DIGITS, ROOT, TF_CNN, TORCH_CNN, run_kenning

_CACHE: dict[str, dict[str, Path]] = {}


def _run_all(commands: list[list[str]], timeout: float = 600) -> None:
    """Run scenarios side by side (the machine has two cores) and check each succeeded."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", *cmd],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    for cmd, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{out}\n{err[-3000:]}"


@pytest.fixture(scope="session", name="report_runs")
def shared_report_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three results files from real runs: ``torch``, ``tf`` and ``torch_batch8``."""
    if "runs" in _CACHE:
        return _CACHE["runs"]
    work = tmp_path_factory.mktemp("report_runs")
    torch_model, tf_model = work / "digits.pth", work / "digits.keras"
    train = "kenning.scenarios.model_training"
    _run_all(
        [
            [train, TORCH_CNN, DIGITS, "--model-path", str(torch_model), "--num-epochs", "3"],
            [train, TF_CNN, DIGITS, "--model-path", str(tf_model), "--num-epochs", "3"],
        ]
    )
    infer = "kenning.scenarios.inference_performance"
    runs = {
        "torch": work / "torch.json",
        "tf": work / "tf.json",
        "torch_batch8": work / "torch_batch8.json",
    }
    # one at a time, so the latencies are not those of three runs fighting over two cores
    for command in (
        [infer, TORCH_CNN, DIGITS, str(runs["torch"]), "--model-path", str(torch_model)],
        [infer, TF_CNN, DIGITS, str(runs["tf"]), "--model-path", str(tf_model)],
        [
            infer,
            TORCH_CNN,
            DIGITS,
            str(runs["torch_batch8"]),
            "--model-path",
            str(torch_model),
            "--inference-batch-size",
            "8",
        ],
    ):
        _run_all([command])
    _CACHE["runs"] = runs
    return runs


def render(*args: str | Path, timeout: float = 300) -> str:
    """Run the render_report scenario; return its stdout, failing on a non-zero exit."""
    done = run_kenning(["kenning.scenarios.render_report", *args], timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- reading rendered reports back -------------------------------------------------------


@dataclass
class Rendered:
    """The tables (by caption) and the prose of a rendered report."""

    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    text: str = ""
    images: list[str] = field(default_factory=list)

    def add(self, caption: str, rows: list[list[str]]) -> None:
        assert caption not in self.tables, f"two tables captioned {caption!r}"
        self.tables[caption] = rows


class _HtmlTables(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.doc = Rendered()
        self._caption: str | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_caption = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._caption, self._rows = "", []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.doc.images.append(dict(attrs)["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            assert self._caption is not None
            self.doc.add(self._caption, self._rows)
            self._caption = None
        elif tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self._caption = (self._caption or "") + data
        elif self._cell is not None:
            self._cell.append(data)
        elif self._caption is None:
            self._text.append(data)


def parse_html(text: str) -> Rendered:
    parser = _HtmlTables()
    parser.feed(text)
    parser.doc.text = " ".join(" ".join(parser._text).split())
    return parser.doc


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text.strip())


def parse_rst(text: str) -> Rendered:
    doc = Rendered()
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".. list-table:: "):
            caption = _unescape(line[len(".. list-table:: ") :])
            rows: list[list[str]] = []
            i += 1
            while i < len(lines) and (not lines[i] or lines[i].startswith("   ")):
                cell = lines[i]
                if cell.startswith("   * - "):
                    rows.append([_unescape(cell[7:])])
                elif cell.startswith("     - "):
                    rows[-1].append(_unescape(cell[7:]))
                i += 1
            doc.add(caption, rows)
            continue
        if line.startswith(".. figure:: "):
            doc.images.append(line[len(".. figure:: ") :])
        elif not line.startswith(".. ") and not line.startswith("   :"):
            prose.append(_unescape(line))
        i += 1
    doc.text = " ".join(" ".join(prose).split())
    return doc


def _md_cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [_unescape(c) for c in cells]


def parse_md(text: str) -> Rendered:
    doc = Rendered()
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Table: "):
            caption = _unescape(line[len("Table: ") :])
            i += 2  # the blank line after the caption
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = _md_cells(lines[i])
                if not all(set(c) <= {"-"} for c in cells):
                    rows.append(cells)
                i += 1
            doc.add(caption, rows)
            continue
        match = re.match(r"!\[.*\]\((.*)\)$", line)
        if match:
            doc.images.append(match.group(1))
        else:
            prose.append(_unescape(line.lstrip("#> ")))
        i += 1
    doc.text = " ".join(" ".join(prose).split())
    return doc


PARSERS = {"html": parse_html, "rst": parse_rst, "md": parse_md}


def load_json(path: Path) -> dict[str, Any]:
    """The results file as plain JSON, read without kenning."""
    return json.loads(Path(path).read_text())

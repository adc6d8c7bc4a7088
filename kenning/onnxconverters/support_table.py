"""The ONNX support table as reStructuredText (model x framework x export/import)."""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kenning.core.onnxresults import DirectionResult, ModelReport, Status
from kenning.utils.errors import ResultsError

_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")

TITLE = "ONNX conversion support"


def escape(text: str) -> str:
    """``text`` on one line with reStructuredText markup characters escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def cell(result: DirectionResult) -> str:
    """One status cell: ``supported``, or the status and its reason."""
    if result.status is Status.SUPPORTED or not result.detail:
        return result.status.value
    return f"{result.status.value}: {escape(result.detail[:300])}"


def _error(result: DirectionResult) -> str:
    return "-" if result.max_error is None else f"{result.max_error:.1e}"


def render(reports: Sequence[ModelReport], versions: dict[str, str], command: str) -> str:
    """The whole RST document.

    Parameters
    ----------
    reports : sequence of ModelReport
        All models of all frameworks, in table order.
    versions : dict
        Framework name -> what was used (versions, exporter, importer).
    command : str
        The command line that produced the table.
    """
    supported = sum(r.export.ok + r.imported.ok for r in reports)
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        TITLE,
        "=" * len(TITLE),
        "",
        f"Generated on {created} by::",
        "",
        f"    {command}",
        "",
        "Each model is built with random weights and run on a seeded random input. *Export*: "
        "the model is written to ONNX, the file passes ``onnx.checker`` and its output in ONNX "
        "Runtime matches the framework's. *Import*: the ONNX file is converted back into the "
        "framework and its output matches too. Outputs match when the largest absolute "
        "difference is at most ``atol + rtol * max(|reference|)``.",
        "",
        f"{supported} of {2 * len(reports)} conversions supported. To re-run one row, run the "
        "command with ``--converters-list <framework> --models <model>``.",
        "",
    ]
    for framework, used in versions.items():
        lines.append(f"* **{escape(framework)}**: {escape(used)}")
    lines += [
        "",
        f".. list-table:: {TITLE}",
        "   :header-rows: 1",
        "",
        "   * - Model",
        "     - Framework",
        "     - Export to ONNX",
        "     - Import from ONNX",
        "     - Max. abs. difference (export / import)",
    ]
    for report in reports:
        lines += [
            f"   * - ``{report.model}``",
            f"     - {escape(report.framework)}",
            f"     - {cell(report.export)}",
            f"     - {cell(report.imported)}",
            f"     - {_error(report.export)} / {_error(report.imported)}",
        ]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically.

    Raises
    ------
    ResultsError
        If the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise ResultsError(f"cannot write {path}: {exc.strerror or exc}", path) from exc

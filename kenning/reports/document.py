"""The format-neutral parts of a report: tables of text, figures to draw, notes.

Sections (:mod:`kenning.reports.sections`, :mod:`kenning.reports.comparison`)
build these; the templates of each format (``kenning/resources/templates``)
lay them out. Numbers are turned into text here, once, with a fixed number of
decimals per unit, so every format shows the same figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kenning.core.metrics import LatencySummary

NOT_AVAILABLE = "n/a"


@dataclass
class Table:
    """A table of text cells with a header row.

    Parameters
    ----------
    caption : str
        One line that says what the table holds; tests find tables by it.
    header : list of str
        Column titles.
    rows : list of list of str
        Cells, each row as long as the header.
    numbers_right : bool
        Whether formats that can align cells put numbers on the right.
    """

    caption: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numbers_right: bool = True

    def add(self, *cells: object) -> None:
        """Append a row; ``None`` cells show as ``n/a``."""
        row = [NOT_AVAILABLE if c is None or c == "" else str(c) for c in cells]
        if len(row) != len(self.header):
            raise ValueError(f"row of {len(row)} cells for {len(self.header)} columns")
        self.rows.append(row)


@dataclass
class Figure:
    """A plot to draw into the image folder.

    Parameters
    ----------
    name : str
        File name stem, unique within the report.
    caption : str
        What the plot shows; also its alternative text.
    draw : callable
        Returns a ``matplotlib.figure.Figure``; called at render time.
    """

    name: str
    caption: str
    draw: Callable[[], Any]
    #: the path the document uses to refer to the image, set when it is drawn
    src: str = ""


def fixed(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals, or ``n/a``."""
    return NOT_AVAILABLE if value is None else f"{value:.{digits}f}"


def stats_cells(summary: LatencySummary, digits: int) -> list[str]:
    """Count, mean, std, median, p90 and p99 as table cells."""
    values = (summary.mean, summary.std, summary.median, summary.p90, summary.p99)
    return [str(summary.count), *(fixed(v, digits) for v in values)]


#: header of every statistics table, after the series name and unit
STATS_HEADER = ["Count", "Mean", "Std", "Median", "P90", "P99"]

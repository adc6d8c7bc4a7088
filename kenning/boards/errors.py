"""Errors of the board inventory.

::

    KenningError
    └── ConfigurationError
        └── InventoryError     inventory.yaml missing, not YAML or invalid; an unknown board

Problems in the file are :class:`InventoryProblem` values (file, line, board, key, message);
one :class:`InventoryError` reports all of them. Errors of reaching and using a board live
in :mod:`kenning.executors.errors` (``BoardError`` and its subclasses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kenning.utils.errors import ConfigurationError


@dataclass(frozen=True)
class InventoryProblem:
    """One problem in an inventory file: where, which board and key, and what."""

    file: str
    line: int | None
    board: str | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        subject = [f"board '{self.board}'"] if self.board is not None else []
        subject += [f"key '{self.key}'"] if self.key else []
        return where + (", ".join(subject) + ": " if subject else "") + self.message


class InventoryError(ConfigurationError):
    """An inventory that cannot be read or is invalid, or a board it does not define.

    Parameters
    ----------
    message : str
        The full message.
    path : Path, optional
        The inventory file.
    problems : sequence of InventoryProblem
        Each problem found (all of them, not only the first).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        problems: Sequence[InventoryProblem] = (),
    ) -> None:
        self.path = path
        self.problems = list(problems)
        first = self.problems[0] if self.problems else None
        self.line = first.line if first else None
        self.board = first.board if first else None
        self.key = first.key if first else None
        super().__init__(message)

    @classmethod
    def from_problems(cls, path: Path, problems: Sequence[InventoryProblem]) -> InventoryError:
        """One error reporting every problem, sorted by line."""
        ordered = sorted(problems, key=lambda problem: problem.line or 0)
        return cls("\n".join(map(str, ordered)), path=path, problems=ordered)

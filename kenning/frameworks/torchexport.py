"""Exported PyTorch programs (``torch.export``, ``.pt2``): loading one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kenning.utils.errors import ModelError
from kenning.utils.imports import require


def load_program(path: Path) -> Any:
    """Load an exported program.

    Raises
    ------
    ModelError
        If ``path`` is not a ``torch.export`` archive.
    """
    torch = require("torch", "torch")
    path = Path(path)
    try:
        return torch.export.load(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} is not a torch.export program (.pt2): {first}", path) from exc

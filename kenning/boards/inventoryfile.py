"""Reading inventory.yaml: where it is, its YAML with line numbers, errors that name them."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from kenning.boards.errors import InventoryError, InventoryProblem
from kenning.boards.inventory import (
    INVENTORY_ENV,
    INVENTORY_FILE,
    PASSWORD_MESSAGE,
    BoardEntry,
    Inventory,
    password_paths,
)
from kenning.boards.protocolconfig import PROTOCOLS
from kenning.boards.yamllines import Loc, describe, load_with_lines, locate


def _valid_keys(loc: Loc) -> str:
    # the keys allowed where pydantic found an unknown one
    if len(loc) == 1:
        model: type[BaseModel] = Inventory
    elif len(loc) == 3 and loc[0] == "boards":
        model = BoardEntry
    elif len(loc) >= 5 and loc[2] == "protocol" and loc[3] in PROTOCOLS:
        model = PROTOCOLS[str(loc[3])]
    else:
        return ""
    return "; valid keys: " + ", ".join(name for name in model.model_fields if name != "name")


def _check_raw(data: Any, display: str, path: Path, lines: Mapping[Loc, int]) -> None:
    """Rules checked on the raw document, where the offending key still has its line."""
    if not isinstance(data, Mapping):
        message = "must be a mapping with a `boards:` key"
        raise InventoryError.from_problems(
            path, [InventoryProblem(display, 1, None, None, message)]
        )
    problems = []
    boards = data.get("boards")
    for name, board in boards.items() if isinstance(boards, Mapping) else ():
        problems += [
            locate(display, ("boards", str(name), *found), lines, PASSWORD_MESSAGE)
            for found in password_paths(board)
        ]
        if isinstance(board, Mapping) and board.get("name", name) != name:
            message = "must equal the board's key under `boards:` (or be left out)"
            problems.append(locate(display, ("boards", str(name), "name"), lines, message))
    if problems:
        raise InventoryError.from_problems(path, problems)


def inventory_path(path: Path | str | None = None) -> tuple[Path, str]:
    """The inventory file to read and how to name it in messages.

    ``path`` if given, else ``$KENNING_INVENTORY``, else ``./inventory.yaml``, else the
    ``inventory.yaml`` of the work tree kenning runs from.

    Raises
    ------
    InventoryError
        If the chosen file does not exist, or none is found.
    """
    from kenning.utils.provenance import work_tree

    if path is not None:
        chosen, origin = Path(path), "given"
    elif os.environ.get(INVENTORY_ENV):
        chosen, origin = Path(os.environ[INVENTORY_ENV]), f"named by ${INVENTORY_ENV}"
    else:
        candidates = [Path(INVENTORY_FILE), work_tree() / INVENTORY_FILE]
        found = [candidate for candidate in candidates if candidate.is_file()]
        if not found:
            raise InventoryError(
                f"no {INVENTORY_FILE} in the current folder or in {work_tree()}; "
                f"create one or set {INVENTORY_ENV}=/path/to/{INVENTORY_FILE}"
            )
        chosen, origin = found[0], "found"
    if not chosen.is_file():
        raise InventoryError(f"inventory file {chosen} ({origin}) does not exist", path=chosen)
    return chosen, str(chosen)


def load_inventory(path: Path | str | None = None) -> Inventory:
    """Read and validate an inventory file (see :func:`inventory_path` for which one).

    Parameters
    ----------
    path : Path or str, optional
        The file; default: ``$KENNING_INVENTORY``, ``./inventory.yaml``, the work tree's.

    Returns
    -------
    Inventory
        The validated boards.

    Raises
    ------
    InventoryError
        If the file is missing, unreadable, not YAML, or invalid; the message gives
        ``file:line: board 'NAME', key 'KEY': problem`` for every problem found.
    """
    chosen, display = inventory_path(path)
    try:
        text = chosen.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read {display}: {exc}", path=chosen) from exc
    with _collector_paused():
        data, lines = load_with_lines(text, display, chosen)
        _check_raw(data, display, chosen, lines)
        try:
            inventory = Inventory.model_validate(data)
        except ValidationError as exc:
            problems = [
                locate(display, tuple(error["loc"]), lines, describe(error, _valid_keys))
                for error in exc.errors(include_url=False)
            ]
            raise InventoryError.from_problems(chosen, problems) from exc
    inventory._source = chosen
    return inventory


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cycle collection while a file's objects are made (they make no cycles).

    Each full collection walks every object alive: while hundreds of thousands are made,
    the collections alone would cost time that grows faster than the file.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

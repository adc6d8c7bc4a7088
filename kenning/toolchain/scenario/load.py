"""Reading a scenario file: YAML (or JSON) with line numbers, errors that name them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kenning.boards.errors import InventoryError
from kenning.boards.yamllines import Loc, describe, load_with_lines, locate
from kenning.toolchain.scenario.schema import (
    ChainStep,
    DatasetSource,
    Deployment,
    ModelSource,
    Scenario,
)
from kenning.utils.errors import ConfigurationError


class ScenarioError(ConfigurationError):
    """A scenario file that cannot be read, is invalid, or asks for something impossible.

    Parameters
    ----------
    message : str
        Every problem, one per line: ``FILE:LINE: key 'KEY': problem``.
    path : Path, optional
        The scenario file.
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


def _valid_keys(loc: Loc) -> str:
    model: type | None
    if len(loc) == 1:
        model = Scenario
    elif (loc[0] == "model" and len(loc) == 2) or (loc[0] == "models" and len(loc) == 3):
        model = ModelSource
    elif loc[0] == "dataset" and len(loc) == 2:
        model = DatasetSource
    elif loc[0] == "deployments" and len(loc) == 3:
        model = Deployment
    elif loc[0] == "deployments" and len(loc) == 5 and loc[2] == "chain":
        model = ChainStep
    else:
        return ""
    fields = [
        name if not f.alias else f.alias
        for name, f in model.model_fields.items()
        if not name.startswith("_")
    ]
    return "; valid keys: " + ", ".join(fields)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], display: str) -> None:
    """Set ``KEY.PATH=VALUE`` items (``--set dataset.folder=data``) in a scenario's data.

    A value is read as YAML (``3``, ``true``, ``[50, 99]``); a ``folder`` or ``file`` is a
    path relative to the working folder (where the command is typed), not to the file.

    Raises
    ------
    ScenarioError
        If an item is not ``KEY=VALUE`` or its path crosses a value that is not a mapping.
    """
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not sep or not parts:
            raise ScenarioError(f"--set {item!r}: give KEY.PATH=VALUE, e.g. dataset.folder=data")
        value: Any = yaml.safe_load(text) if text.strip() else ""
        if parts[-1] in ("folder", "file") and isinstance(value, str):
            value = str(Path(value).expanduser().resolve())
        where: Any = data
        for depth, part in enumerate(parts[:-1]):
            where = where.setdefault(part, {}) if isinstance(where, dict) else None
            if not isinstance(where, dict):
                crossed = ".".join(parts[: depth + 1])
                raise ScenarioError(f"--set {item!r}: {display}'s `{crossed}` is not a mapping")
        where[parts[-1]] = value


def load_scenario(path: Path | str, overrides: Sequence[str] = ()) -> Scenario:
    """Read and validate a scenario file; its relative paths are relative to its folder.

    ``overrides`` are ``KEY.PATH=VALUE`` items applied before validation
    (:func:`apply_overrides`).

    Raises
    ------
    ScenarioError
        If the file is missing, unreadable, not YAML/JSON or invalid; the message has
        ``FILE:LINE: key 'KEY': problem`` for every problem found.
    """
    path = Path(path)
    display = str(path)
    if not path.is_file():
        raise ScenarioError(
            f"scenario file {path} does not exist; see scenarios/*.yaml for examples", path
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read {display}: {exc}", path) from exc
    try:
        data, lines = load_with_lines(text, display, path)
    except InventoryError as exc:
        raise ScenarioError(str(exc), path) from exc
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{display}:1: must be a mapping with `name:`, `model:`, "
            "`dataset:` and `deployments:`",
            path,
        )
    apply_overrides(data, overrides, display)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            (
                locate(display, tuple(error["loc"]), lines, describe(error, _valid_keys))
                for error in exc.errors(include_url=False)
            ),
            key=lambda problem: problem.line or 0,
        )
        raise ScenarioError("\n".join(map(str, problems)), path) from exc
    scenario._base, scenario._lines, scenario._display = path.parent, lines, display
    return scenario

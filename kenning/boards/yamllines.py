"""YAML read with the line of every key, and pydantic errors turned into ``file:line`` problems.

:func:`load_with_lines` reads the document with :class:`MarkedLoader`, which records
the line (``start_mark.line + 1``) of every mapping key and list item by its path, e.g.
``("boards", "rpi4-1", "arch") -> 14``. :func:`locate` maps the ``loc`` of a pydantic error
onto that table and :func:`describe` words the error for a person editing the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kenning.boards.errors import InventoryError, InventoryProblem
from kenning.boards.yamlloader import MAX_DEPTH, Loc, MarkedLoader

__all__ = ["MAX_DEPTH", "Loc", "MarkedLoader", "describe", "load_with_lines", "locate"]


def load_with_lines(text: str, display: str, path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``text``; return the data and the line of every key and list item.

    Parameters
    ----------
    text : str
        The YAML document.
    display : str
        How to name the file in messages.
    path : Path
        The file (kept in the error).

    Raises
    ------
    InventoryError
        For a syntax error (with its line), an alias, nesting deeper than
        :data:`MAX_DEPTH`, or a key given twice in one mapping.
    """
    loader = MarkedLoader(text)
    try:
        data, lines, duplicates = loader.load_with_lines()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        problem = InventoryProblem(
            display, mark.line + 1 if mark else None, None, None, f"invalid YAML: {what}"
        )
        raise InventoryError.from_problems(path, [problem]) from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"{display}: invalid YAML: {exc}", path=path) from exc
    finally:
        loader.dispose()
    problems = [
        locate(display, dup, lines, f"appears twice (lines {first} and {line}); keep one")
        for dup, first, line in duplicates
    ]
    if problems:
        raise InventoryError.from_problems(path, problems)
    return data, lines


def locate(display: str, loc: Loc, lines: Mapping[Loc, int], message: str) -> InventoryProblem:
    """Locate ``loc``: the longest recorded path along it gives the line.

    Items of ``loc`` that are not in the file (pydantic's union tags, ``[key]``) are skipped;
    a last item that is not in the file is a missing key and still names the key.
    """
    path: Loc = ()
    shown: list[str] = []
    for position, item in enumerate(loc):
        if (*path, item) in lines:
            path = (*path, item)
            if isinstance(item, str):
                shown.append(item)
        elif position == len(loc) - 1 and isinstance(item, str) and not item.startswith("["):
            shown.append(item)
    board = shown[1] if len(shown) > 1 and shown[0] == "boards" else None
    key_parts = shown[2:] if board is not None else shown
    return InventoryProblem(display, lines.get(path), board, ".".join(key_parts) or None, message)


def describe(error: Mapping[str, Any], valid_keys: Callable[[Loc], str]) -> str:
    """Word one pydantic error (from ``ValidationError.errors()``) for the file's editor.

    ``valid_keys(loc)`` says which keys are allowed where an unknown key was found.
    """
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key{valid_keys(tuple(error['loc']))}"
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{value!r} is not one of {', '.join(choices)}"
    if kind == "union_tag_invalid":
        expected = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected_tags", ""))))
        return f"kind {ctx.get('tag')!r} is not one of {expected}"
    if kind == "union_tag_not_found":
        expected = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected_tags", ""))))
        return f"needs {ctx.get('discriminator')}: one of {expected}"
    message = str(error["msg"])
    message = message[:1].lower() + message[1:]
    if isinstance(value, Mapping | list) or value is None:
        return message
    shown = repr(value)
    if len(shown) > 60:  # a long value would hide the message: its start and its length
        shown = f"{shown[:40]}... ({len(str(value)):,} characters)"
    return f"{shown}: {message}"

"""Argument types that check ranges before any work starts (argparse ``type=`` callables).

A value out of range is one ``error: argument --flag: ... is not ...`` line and exit 2, from
argparse itself, before a dataset is read or a model trained.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """An argparse type: ``convert`` the text, refuse a value that is not ``ok``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):  # `not ok` also refuses nan
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


non_negative_int = checked(int, lambda v: v >= 0, "a whole number >= 0")
positive_int = checked(int, lambda v: v >= 1, "a whole number >= 1")
non_negative_float = checked(float, lambda v: v >= 0.0, "a number >= 0")
positive_float = checked(float, lambda v: 0.0 < v < float("inf"), "a finite number > 0")

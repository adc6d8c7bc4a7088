"""Command-line machinery shared by the scenarios.

A scenario names classes positionally (by short name or dotted path); the
parser is then rebuilt from exactly those classes, so ``-h`` after the class
names lists their flags. :func:`run` turns every :class:`KenningError` into one
line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import logging
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kenning.core.registry import load_class, short_names
from kenning.utils.argparser import ArgumentParser
from kenning.utils.cli import EXIT_ERROR, EXIT_INTERRUPTED, run
from kenning.utils.errors import ConfigurationError

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "ClassSlot",
    "build_parser",
    "check_output_path",
    "run",
]

log = logging.getLogger("kenning")


@dataclass(frozen=True)
class ClassSlot:
    """A class the scenario takes: positional (``flag`` empty) or through a flag."""

    name: str
    family: str
    help: str
    flag: str = ""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps short names such as ``torch-digits-cnn`` whole when help lines wrap."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _add_slot(parser: argparse.ArgumentParser, slot: ClassSlot) -> None:
    names = ", ".join(short_names(slot.family)) or "dotted path only"
    text = f"{slot.help} (short names: {names})"
    if slot.flag:
        parser.add_argument(slot.flag, dest=slot.name, default=None, help=text)
    else:
        parser.add_argument(slot.name, help=text)


def build_parser(
    prog: str,
    description: str,
    slots: Sequence[ClassSlot],
    add_arguments: Callable[[argparse.ArgumentParser], None],
    argv: Sequence[str],
) -> tuple[argparse.Namespace, dict[str, type[Any]]]:
    """Parse ``argv`` in two passes: class names first, then every class's flags.

    Parameters
    ----------
    prog, description : str
        Shown by ``-h``.
    slots : sequence of ClassSlot
        The classes the scenario takes.
    add_arguments : callable
        Adds the scenario's own flags (and positionals after the classes).
    argv : sequence of str
        The command line without the program name.

    Returns
    -------
    tuple
        The parsed namespace and the resolved classes by slot name.

    Raises
    ------
    UnknownClassError
        If a class name does not resolve.
    """
    first = ArgumentParser(prog=prog, description=description, add_help=False)
    for slot in slots:
        _add_slot(first, slot)
    known, _ = first.parse_known_args(argv) if _has_positionals(slots, argv) else (None, None)

    full = ArgumentParser(prog=prog, description=description, formatter_class=_HelpFormatter)
    for slot in slots:
        _add_slot(full, slot)
    add_arguments(full)
    add_verbosity_argument(full)
    classes: dict[str, type[Any]] = {}
    if known is not None:
        for slot in slots:
            name = getattr(known, slot.name, None)
            if name:
                classes[slot.name] = load_class(name, slot.family)
                classes[slot.name].form_argparse(full)
    args = full.parse_args(argv)
    configure_logging(args.verbosity)
    return args, classes


def add_verbosity_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--verbosity`` flag every scenario has."""
    parser.add_argument(
        "--verbosity",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log level (default: %(default)s)",
    )


def configure_logging(verbosity: str) -> None:
    """Log kenning at ``verbosity``; frameworks only from WARNING, unless it is DEBUG.

    Frameworks log chatter at INFO on the root logger: only DEBUG lets it through.
    """
    level = getattr(logging, verbosity)
    logging.basicConfig(
        level=min(level, logging.WARNING) if level == logging.DEBUG else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("kenning").setLevel(level)


def _has_positionals(slots: Sequence[ClassSlot], argv: Sequence[str]) -> bool:
    """Whether enough words precede the first flag to name the positional classes."""
    positional = [s for s in slots if not s.flag]
    words = 0
    for word in argv:
        if word.startswith("-"):
            break
        words += 1
    return words >= len(positional)


def check_output_path(path: Path) -> Path:
    """Fail early if ``path`` cannot be created (its folder is made if needed).

    Raises
    ------
    ConfigurationError
        If the folder cannot be made or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write {path}: {exc.strerror or exc}; choose a writable output path"
        ) from exc
    if path.is_dir():
        raise ConfigurationError(f"output path {path} is a folder; give a file name")
    return path

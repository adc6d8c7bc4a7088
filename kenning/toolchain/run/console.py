"""A quiet console: a step's whole output goes to its log, kenning's own lines to the screen.

Frameworks print a lot (torchvision-missing warnings, FutureWarnings, Keras's HDF5 notice, the
TFLite converter's ``fully_quantize: 0 ...``). A step run by the toolchain writes everything to
``build/logs/steps/NAME.log``; the screen gets only what kenning itself says (verdict lines,
``warning:``, ``note:``, kenning's log records). ``--verbosity DEBUG`` shows it all. A step's
``error:`` line is not forwarded: the step's failure carries it (the last lines of its output)
and is reported once.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TextIO

#: lines of a step's output that are kenning's own
KENNING_LINES = re.compile(
    r"^(VALID|INVALID|UNVERIFIED|warning:|note:|==|report written|\S+ (WARNING|ERROR) kenning)"
)


class QuietConsole:
    """A text stream: every line to ``log``, kenning's own lines also to ``screen``."""

    def __init__(self, log: TextIO, screen: TextIO) -> None:
        self.log = log
        self.screen = screen
        self._partial = ""

    def write(self, text: str) -> int:
        """Log ``text``; forward its complete kenning lines."""
        self.log.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if KENNING_LINES.match(line.lstrip("\r")):
                self.screen.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        """Flush both streams."""
        self.log.flush()
        self.screen.flush()


def verbose() -> bool:
    """Whether the user asked to see everything (``--verbosity DEBUG``)."""
    return logging.getLogger("kenning").isEnabledFor(logging.DEBUG)


def step_log(build: Path, name: str) -> Path:
    """The log file of step ``name`` (made unique by the caller: deployment-step)."""
    folder = build / "logs" / "steps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def screen(stream: str) -> TextIO:
    """The real stdout or stderr."""
    return sys.stdout if stream == "stdout" else sys.stderr

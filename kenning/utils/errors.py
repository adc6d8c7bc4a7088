"""Exceptions raised by kenning.

Every error kenning raises on purpose derives from :class:`KenningError`, so a
scenario catches one type, prints its message on one line and exits non-zero::

    KenningError
    ├── ConfigurationError        bad flags, unknown class names, bad paths
    │   └── UnknownClassError     a class path or short name that does not resolve
    ├── MissingDependencyError    an optional framework is not installed
    │   └── MissingToolError      a program kenning runs (cross compiler, QEMU) is missing
    ├── DatasetError              dataset files missing, corrupt or failing checksums
    │   └── DownloadError         the download itself failed
    ├── ModelError                a model file that cannot be loaded or saved
    ├── ResultsError              a results file that cannot be read or written
    ├── ProtocolError             host-target communication failed (see runtimeprotocols)
    └── GroupError                work over several items where some failed (keeps them all)

Third-party exceptions are converted where they are caught, with
``raise ... from exc`` so the original stays available in ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class KenningError(Exception):
    """Root of every error kenning raises on purpose."""


class ConfigurationError(KenningError):
    """A flag, a path or a combination of options that cannot work."""


class UnknownClassError(ConfigurationError):
    """A class path or short name that does not name a usable class.

    Parameters
    ----------
    name : str
        What the user gave.
    family : str
        The kind of class expected (``"dataset"``, ``"modelwrapper"``, ...).
    choices : list of str
        Valid short names for that family.
    reason : str, optional
        Why resolution failed, when it got as far as importing.
    """

    def __init__(self, name: str, family: str, choices: list[str], reason: str = "") -> None:
        self.name = name
        self.family = family
        self.choices = choices
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        valid = ", ".join(choices) if choices else "none registered"
        super().__init__(
            f"unknown {family} class '{name}'{detail}; valid short names: {valid} "
            "(a full dotted path such as kenning.datasets.digits.DigitsDataset also works)"
        )


class MissingDependencyError(KenningError):
    """An optional framework that a class needs is not installed.

    Parameters
    ----------
    module : str
        The module that failed to import.
    extra : str
        The ``kenning[...]`` extra that installs it.
    """

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"'{module}' is not installed; install it with: pip install 'kenning[{extra}]'"
        )


class MissingToolError(MissingDependencyError):
    """A program kenning runs (a cross compiler, an emulator) is not installed.

    Parameters
    ----------
    tool : str
        The program's name.
    install : str
        The command that installs it.
    """

    def __init__(self, tool: str, install: str) -> None:
        self.module = tool
        self.extra = ""
        KenningError.__init__(self, f"'{tool}' is not installed; install it with: {install}")


class DatasetError(KenningError):
    """Dataset files that are missing, incomplete or fail verification."""

    def __init__(self, message: str, root: Path | None = None) -> None:
        self.root = root
        super().__init__(message)


class DownloadError(DatasetError):
    """A dataset download failed (network, HTTP status or checksum)."""

    def __init__(self, message: str, url: str) -> None:
        self.url = url
        super().__init__(message)


class ModelError(KenningError):
    """A model file that cannot be loaded, saved or converted.

    Parameters
    ----------
    message : str
        What went wrong and what to do.
    path : Path, optional
        The model file involved.
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


class ResultsError(KenningError):
    """A results file that cannot be written, read or validated."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


class ProtocolError(KenningError):
    """Host-target communication failed; subclasses live in the protocol layer."""


class GroupError(KenningError):
    """Work over several items (artifacts, boards) where some failed: every outcome is kept.

    Like fabric's ``GroupException``: the items that succeeded keep their results, each
    failure keeps its own error.

    Parameters
    ----------
    what : str
        What the items are, e.g. ``"artifacts on board local"``.
    results : mapping
        Item name -> its result, for the items that succeeded.
    failures : mapping
        Item name -> the error it raised.
    note : str
        What the caller did with the successes (e.g. where their report is).
    """

    def __init__(
        self,
        what: str,
        results: Mapping[str, Any],
        failures: Mapping[str, KenningError],
        note: str = "",
    ) -> None:
        self.results = dict(results)
        self.failures = dict(failures)
        total = len(self.results) + len(self.failures)
        listed = "; ".join(f"{name}: {error}" for name, error in self.failures.items())
        super().__init__(
            f"{len(self.failures)} of {total} {what} failed{f' ({note})' if note else ''}: "
            f"{listed}"
        )


def error_text(exc: BaseException) -> str:
    """What to tell a user about ``exc``: kenning's own message, else its type and message."""
    return str(exc) if isinstance(exc, KenningError) else f"{type(exc).__name__}: {exc}"

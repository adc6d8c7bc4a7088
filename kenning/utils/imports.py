"""Lazy imports of optional frameworks with errors that say what to install."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from kenning.utils.errors import MissingDependencyError

# Frameworks print start-up chatter on stderr; users see it as noise around
# kenning's own one-line errors.
_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
}


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an error naming the extra that installs it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"tensorflow"``.
    extra : str
        The ``kenning[...]`` extra providing it.

    Returns
    -------
    ModuleType
        The imported module.

    Raises
    ------
    MissingDependencyError
        If the import fails because the package is absent.
    """
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(module, extra) from exc

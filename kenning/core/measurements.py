"""Measurements any block can write to, and a background system sampler.

:data:`collector` is the process-wide :class:`Measurements`: a compiler can
record its compile time, a runtime its load time, and the scenario stores the
lot in the results file. The background sampler is :mod:`kenning.core.monitor`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Measurements:
    """A thread-safe dictionary of named values and series."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def set(self, name: str, value: Any) -> None:
        """Store one value under ``name``, replacing any earlier one."""
        with self._lock:
            self._data[name] = value

    def append(self, name: str, value: Any) -> None:
        """Append ``value`` to the series ``name``."""
        with self._lock:
            self._data.setdefault(name, []).append(value)

    def update(self, other: Measurements | dict[str, Any]) -> None:
        """Merge another collection; series are concatenated, values replaced."""
        items = other.to_dict() if isinstance(other, Measurements) else dict(other)
        with self._lock:
            for key, value in items.items():
                if isinstance(value, list) and isinstance(self._data.get(key), list):
                    self._data[key].extend(value)
                else:
                    self._data[key] = value

    def get(self, name: str, default: Any = None) -> Any:
        """The value or series stored under ``name``."""
        with self._lock:
            return self._data.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy of everything recorded."""
        with self._lock:
            return {k: list(v) if isinstance(v, list) else v for k, v in self._data.items()}

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Append the duration of the ``with`` body, in seconds, to series ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.append(name, time.perf_counter() - start)


#: the process-wide collector
collector = Measurements()

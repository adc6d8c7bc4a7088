"""Compile each deployment once per architecture in a run, whichever board needs it first.

Boards are benched in parallel, one worker each; two boards of one architecture need the
same artifact. :class:`Artifacts` makes the second wait for the first's compile and use its
result (or its error), so an artifact is never written by two compiles at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from kenning.utils.errors import KenningError


class _Entry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None
        self.error: KenningError | None = None


class Artifacts:
    """A run's compiled artifacts by key (architecture, deployment), made once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value for ``key``: ``make()``'s, made by the first caller, waited for by others.

        Raises
        ------
        KenningError
            ``make``'s error, for every caller of that key.
        """
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
        with entry.lock:
            if not entry.done:
                try:
                    entry.value = make()
                except KenningError as exc:
                    entry.error = exc
                    raise
                finally:
                    entry.done = True
            elif entry.error is not None:
                raise entry.error
            return entry.value

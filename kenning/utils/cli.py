"""The one way kenning's commands end: one ``error:`` line for known errors, 130 on Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from kenning.utils.errors import KenningError

log = logging.getLogger("kenning")

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(main: Callable[[Sequence[str]], int | None], argv: Sequence[str] | None = None) -> None:
    """Run a scenario's ``main`` and exit with its status.

    Known errors print one ``error: ...`` line; Ctrl-C exits with 130, and so does SIGTERM,
    which is turned into the same interruption so that a run being stopped still writes what
    it has (a results file marked ``partial``).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = main(list(sys.argv[1:] if argv is None else argv))
    except KenningError as exc:
        log.debug("details", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code or 0)

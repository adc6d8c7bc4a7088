"""Probing boards (``invoke boards --check``): reachable, architecture, Python, runtimes, disk.

Every board is probed at the same time, each in its own thread; a board that fails gives a
:class:`BoardStatus` carrying the error message, so one bad board never hides the others.
The local board is probed in this process; an SSH board with ONE remote shell command
(:func:`probe_script`) whose output is parsed by :func:`parse_probe`. Runtimes are looked up
with ``importlib.util.find_spec``, so no framework is imported, here or on the board.
:func:`kenning.boards.table.format_table` prints the statuses.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kenning.boards.inventory import BoardEntry, Inventory
from kenning.boards.probe import (
    parse_probe,
    probe_local,
    probe_mcu,
    probe_script,
    probe_ssh,
)
from kenning.boards.status import BoardStatus
from kenning.executors.errors import ExecutionError
from kenning.utils.errors import KenningError

__all__ = [
    "BoardStatus",
    "check_boards",
    "parse_probe",
    "probe_local",
    "probe_script",
    "probe_ssh",
]


def _probe(
    board: BoardEntry, trust_unknown_host: bool, known_hosts: Path | None, timeout: float
) -> BoardStatus:
    started = time.monotonic()
    try:
        if board.is_local:
            status = probe_local(board)
        elif board.is_mcu:
            status = probe_mcu(board, timeout)
        else:
            status = probe_ssh(
                board,
                trust_unknown_host=trust_unknown_host,
                known_hosts=known_hosts,
                timeout=timeout,
            )
    except KenningError as exc:
        message = str(exc)
        if f"'{board.name}'" not in message:
            message = f"board '{board.name}': {message}"
        # a command that ran and failed means the board was reached
        status = BoardStatus(board.name, board.build_arch, board.deploy, error=message)
        status.reachable = isinstance(exc, ExecutionError)
    status.duration_s = time.monotonic() - started
    return status


def check_boards(
    inventory: Inventory,
    names: Sequence[str] | None = None,
    *,
    trust_unknown_host: bool = False,
    known_hosts: Path | None = None,
    timeout: float = 10.0,
) -> list[BoardStatus]:
    """Probe boards in parallel and return one status per board, in the order asked.

    Parameters
    ----------
    inventory : Inventory
        Where the boards are defined.
    names : sequence of str, optional
        Boards to probe (default: all of them).
    trust_unknown_host : bool
        Accept and record the host key of a board not yet in known_hosts.
    known_hosts : Path, optional
        The known_hosts file (default: each board's ``known_hosts:``, else
        ``~/.ssh/known_hosts``).
    timeout : float
        Seconds allowed to connect, and again to run the probe command.

    Returns
    -------
    list of BoardStatus
        Failures are in each status (``error``, ``problems``); nothing is raised for them.

    Raises
    ------
    InventoryError
        If a name is not a board of the inventory (checked before probing anything).
    """
    boards = [inventory.board(name) for name in (inventory.names if names is None else names)]
    if not boards:
        return []
    with ThreadPoolExecutor(max_workers=min(len(boards), 16)) as pool:
        futures = [
            pool.submit(_probe, board, trust_unknown_host, known_hosts, timeout)
            for board in boards
        ]
        return [future.result() for future in futures]

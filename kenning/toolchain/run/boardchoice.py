"""Which boards a run uses and which deployments each one benches.

Boards come from one reading of the inventory, by name or tag (:func:`resolve_boards`): a
``deploy: local`` entry is this machine, ``deploy: mcu`` a microcontroller
(:class:`kenning.boards.mcu.McuBoard`), the others SSH boards. A deployment runs on a board
that offers its runtime and is of its kind (:func:`choose_deployments`).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence

from kenning.boards.base import Board
from kenning.boards.local import LocalBoard
from kenning.boards.mcuentry import arch_machine
from kenning.toolchain.run.job import Job
from kenning.utils.errors import ConfigurationError
from kenning.utils.imports import require

__all__ = ["choose_deployments", "resolve_boards"]

log = logging.getLogger("kenning.bench")


def resolve_boards(
    names: Sequence[str], *, trust_host_key: bool = False, keep_files: bool | None = None
) -> list[Board]:
    """Boards by name, or every board with a tag, from one reading of the inventory.

    ``local`` is this machine (without the ssh extra there is no inventory, and it is the
    only board). ``keep_files`` keeps each run's folder on SSH boards (None: as
    ``KENNING_KEEP_BOARD_FILES`` says).

    Raises
    ------
    ConfigurationError
        If a name is neither a board nor a tag of the inventory, or the inventory is invalid.
    MissingDependencyError
        If pyyaml (the ``ssh`` extra) is not installed and a board other than ``local`` is named.
    """
    if list(names) == ["local"] * len(names) and importlib.util.find_spec("yaml") is None:
        return [LocalBoard() for _ in names]
    require("yaml", "ssh")
    from kenning.boards.inventoryfile import load_inventory
    from kenning.boards.protocolconfig import SerialProtocolConfig

    inventory = load_inventory()
    chosen: list[str] = []
    for name in names:
        tagged = [b for b, entry in inventory.boards.items() if name in entry.tags]
        if name == "local" or name in inventory.boards:
            chosen.append(name)
        elif tagged:
            chosen += tagged
        else:
            raise ConfigurationError(
                f"no board or tag '{name}' in the inventory; boards: {', '.join(inventory.boards)}"
            )
    boards: list[Board] = []
    for name in chosen:
        entry = inventory.board(name)
        if entry.is_mcu:
            from kenning.boards.mcu import McuBoard

            boards.append(McuBoard(entry))
        elif entry.deploy == "local":
            serial = entry.protocol if isinstance(entry.protocol, SerialProtocolConfig) else None
            board = LocalBoard(name, entry.runtime_args, serial)
            board.runtimes = list(entry.runtimes)
            boards.append(board)
        else:
            from kenning.boards.remote import RemoteBoard

            boards.append(RemoteBoard(entry, trust_host_key=trust_host_key, keep_files=keep_files))
    return boards


def choose_deployments(job: Job, board: Board, names: Sequence[str]) -> list[str]:
    """The deployments to bench on ``board``: the named ones, or all whose runtime it has.

    A deployment of ``board-kind: mcu`` runs only on microcontroller boards, the others only
    on Linux boards; one named for a board of the other kind is skipped with a note.

    Raises
    ------
    ConfigurationError
        For an unknown name, or nothing the board runs.
    """
    deployments = job.scenario.deployments
    if unknown := [n for n in names if n not in deployments]:
        raise ConfigurationError(
            f"scenario '{job.scenario.name}' has no deployment {', '.join(unknown)}; it has "
            f"{', '.join(deployments)}"
        )
    mcu = arch_machine(board.arch) is not None
    kind = "a microcontroller" if mcu else "a Linux board"
    for name in names:
        if (deployments[name].board_kind == "mcu") != mcu:
            log.warning("deployment %s skipped on board %s: it is %s", name, board.name, kind)
    if names:
        return [n for n in names if (deployments[n].board_kind == "mcu") == mcu]
    offered = getattr(board, "runtimes", None)
    chosen = [
        n
        for n, d in deployments.items()
        if (offered is None or d.runtime.runtime in offered) and (d.board_kind == "mcu") == mcu
    ]
    if not chosen:
        raise ConfigurationError(
            f"board '{board.name}' offers no runtime the deployments of "
            f"scenario '{job.scenario.name}' use"
        )
    return chosen

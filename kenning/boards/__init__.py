"""Boards: the inventory of targets (``inventory.yaml``) and probing them.

:func:`load_inventory` reads and validates the inventory; :func:`check_boards` probes
boards in parallel (reachability, architecture, Python, runtimes, free disk) and
:func:`format_table` prints the result.
"""

from __future__ import annotations

from kenning.boards.check import BoardStatus, check_boards, format_boards, format_table
from kenning.boards.inventory import (
    Board,
    Inventory,
    InventoryError,
    InventoryProblem,
    NetworkProtocolConfig,
    SerialProtocolConfig,
    inventory_path,
    load_inventory,
    normalize_arch,
)

__all__ = [
    "Board",
    "BoardStatus",
    "Inventory",
    "InventoryError",
    "InventoryProblem",
    "NetworkProtocolConfig",
    "SerialProtocolConfig",
    "check_boards",
    "format_boards",
    "format_table",
    "inventory_path",
    "load_inventory",
    "normalize_arch",
]

"""Boards: the inventory of targets (``inventory.yaml``) and probing them.

:func:`load_inventory` reads and validates the inventory; :func:`check_boards` probes
boards in parallel (reachability, architecture, Python, runtimes, free disk) and
:func:`format_table` prints the result.
"""

from __future__ import annotations

from kenning.boards.check import check_boards
from kenning.boards.errors import InventoryProblem
from kenning.boards.inventory import (
    BoardEntry,
    Inventory,
    InventoryError,
    normalize_arch,
)
from kenning.boards.inventoryfile import inventory_path, load_inventory
from kenning.boards.protocolconfig import NetworkProtocolConfig, SerialProtocolConfig
from kenning.boards.status import BoardStatus
from kenning.boards.table import format_boards, format_table

__all__ = [
    "BoardEntry",
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

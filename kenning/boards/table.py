"""Tables of boards for the terminal: the inventory, and what probing found.

Rendered with rich into a string, so callers print them or put them in logs; without colour
unless asked (a state that needs attention is also said in words).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kenning.boards.inventory import Inventory
    from kenning.boards.status import BoardStatus


def format_bytes(size: int | None) -> str:
    """``12.3 GiB``-style size, or ``?``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


#: cells in these states are drawn in red when colour is on (the word says it without colour)
ALARM = "bold red"


def _render(
    headers: Sequence[str],
    rows: Iterable[Sequence[str | tuple[str, str]]],
    width: int | None,
    color: bool = False,
) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:  # a (text, style) cell is styled; text is never read as markup
        table.add_row(*(Text(*cell) if isinstance(cell, tuple) else Text(cell) for cell in row))
    buffer = io.StringIO()
    width = width or max(100, shutil.get_terminal_size((120, 24)).columns)
    Console(
        file=buffer, width=width, color_system="standard" if color else None, force_terminal=color
    ).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _unprefixed(name: str) -> Callable[[str], str]:
    # the row already names the board
    return lambda problem: problem.removeprefix(f"board '{name}', ").removeprefix(
        f"board '{name}': "
    )


def format_table(statuses: Sequence[BoardStatus], width: int | None = None) -> str:
    """The statuses as a plain-text table (one row per board; problems in the last column).

    ``width`` defaults to the terminal's (at least 100 columns).
    """
    rows = []
    for status in statuses:
        if status.arch is None:
            arch = "?"
        else:
            mark = "" if status.arch_matches else f" != {status.expected_arch}"
            arch = f"{status.arch}{mark}"
        runtimes = " ".join(status.runtimes_found) or "-"
        if status.runtimes_missing:
            runtimes += f" (missing: {', '.join(status.runtimes_missing)})"
        if status.deploy == "image" and status.reachable:
            runtimes, python = "in the image", f"docker {status.docker or '?'}"
        else:
            python = status.python or "?"
        rows.append(
            [
                status.name,
                "yes" if status.reachable else "no",
                arch,
                python,
                runtimes,
                format_bytes(status.free_bytes),
                f"{status.duration_s:.1f} s",
                "ok" if status.ok else "; ".join(map(_unprefixed(status.name), status.problems)),
            ]
        )
    headers = ["board", "reachable", "arch", "python", "runtimes", "free disk", "took", "status"]
    return _render(headers, rows, width)


def format_boards(inventory: Inventory, width: int | None = None, color: bool = False) -> str:
    """The inventory as a table (``invoke boards`` without ``--check``); width as above.

    A board whose server is exposed on its network says ``exposed`` (in red with ``color``).
    """
    rows: list[list[str | tuple[str, str]]] = []
    for board in inventory.boards.values():
        if board.is_local:
            where = "this machine"
        else:
            where = f"{board.user}@{board.host}:{board.port}"
        protocol = board.protocol
        style = ""
        if board.is_local:
            link = "loopback"
        elif protocol.kind == "serial":
            link = f"serial {protocol.device} {protocol.baud}"
        elif protocol.expose:  # anyone on the board's network may connect
            link, style = f"tcp {protocol.port}, exposed, tunnel {protocol.tunnel}", ALARM
        else:
            link = f"tcp {protocol.port}, loopback"
        default = " (default)" if board.name == inventory.default else ""
        rows.append(
            [
                (board.name + default, style),
                board.build_arch,
                board.deploy,
                where,
                " ".join(board.runtimes),
                (link, style),
                " ".join(board.delegates) or "-",
                " ".join(board.tags) or "-",
            ]
        )
    headers = ["board", "arch", "deploy", "ssh", "runtimes", "protocol", "delegates", "tags"]
    return _render(headers, rows, width, color)

"""From ``inventory.yaml`` to a labgrid farm: the exporter's configuration and the places.

One exporter group per board, named after the board (``exporter.yaml``)::

    rpi4-1:
      NetworkService: {address: rpi4-1.lan, username: pi, port: 22}
    uart-board:
      NetworkService: {address: 10.0.0.7, username: root, port: 22}
      RawSerialPort: {port: /dev/ttyUSB0, speed: 115200}

A serial board's UART is a ``RawSerialPort`` (the exporter serves it with ``ser2net`` and
clients see a ``NetworkSerialPort``), or a ``NetworkSerialPort`` when the inventory's
device is already on the network (``rfc2217://HOST:PORT`` or ``socket://HOST:PORT``).
labgrid reads the file as a Jinja2 template whose line statements start with ``#``, so its
comments start with ``##``. ``deploy: local`` boards are the benchmarking machine itself and
are not exported, nor are emulated microcontrollers (kenning starts QEMU where it runs). A real
microcontroller (``deploy: mcu``, ``emulator: none``) is exported as its UART alone.

One place per board, with the same name (``places.yaml``, kenning's own file)::

    rpi4-1:
      matches: ['*/rpi4-1/*']
      tags: {kenning: 'yes', arch: arm64, deploy: script, ..., runtime_tflite: 'yes'}

:func:`apply_places` creates them on a coordinator (or brings existing ones up to date).
The rest of a board (key, workdir, delegates, runtime_args) stays in the inventory, which
every kenning client reads; the place's name is the board's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from kenning.boards.inventory import BoardEntry, Inventory
from kenning.boards.protocolconfig import SerialProtocolConfig
from kenning.farm.errors import FarmExportError
from kenning.farm.tags import KENNING_TAG, LEASE_TAG, board_tags, check_tags

if TYPE_CHECKING:
    from kenning.farm.session import FarmSession

EXPORTER_FILE = "exporter.yaml"
PLACES_FILE = "places.yaml"
_NETWORK_SERIAL = {"rfc2217": "rfc2217", "socket": "raw"}
#: tag keys kenning writes (others on a place were set by hand and are left alone)
_OURS = (KENNING_TAG, "arch", "deploy", "protocol")


@dataclass(frozen=True)
class PlaceSpec:
    """A place to create: its name, resource matches and tags."""

    name: str
    matches: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FarmExport:
    """The exporter's groups, the places, and the boards left out (with why)."""

    groups: dict[str, dict[str, dict[str, Any]]]
    places: tuple[PlaceSpec, ...]
    skipped: dict[str, str]


def serial_resource(protocol: SerialProtocolConfig) -> dict[str, dict[str, Any]]:
    """The labgrid resource of a board's UART."""
    url = urlsplit(protocol.device)
    if url.scheme in _NETWORK_SERIAL and url.hostname and url.port:
        return {
            "NetworkSerialPort": {
                "host": url.hostname,
                "port": url.port,
                "speed": protocol.baud,
                "protocol": _NETWORK_SERIAL[url.scheme],
            }
        }
    return {"RawSerialPort": {"port": protocol.device, "speed": protocol.baud}}


def board_resources(board: BoardEntry) -> dict[str, dict[str, Any]]:
    """The exporter group of ``board``: its SSH endpoint and, for a serial board, its UART.

    A real microcontroller has no SSH: its group is its UART alone.
    """
    group: dict[str, dict[str, Any]] = {}
    if not board.is_mcu:
        group["NetworkService"] = {
            "address": board.host,
            "username": board.user,
            "port": board.port,
        }
    if isinstance(board.protocol, SerialProtocolConfig):
        group.update(serial_resource(board.protocol))
    return group


def export_inventory(
    inventory: Inventory, boards: Iterable[str] | None = None, exporter: str = "*"
) -> FarmExport:
    """The exporter groups and places of ``boards`` (default: all) of ``inventory``.

    ``exporter`` is the exporter name the places match (``*``: any exporter).

    Raises
    ------
    FarmExportError
        If a named board is not in the inventory, or no board can be exported.
    """
    names = list(boards) if boards is not None else inventory.names
    unknown = [name for name in names if name not in inventory.boards]
    if unknown:
        raise FarmExportError(
            f"not in the inventory: {', '.join(unknown)} (boards: {', '.join(inventory.names)})"
        )
    groups, places, skipped = {}, [], {}
    for name in names:
        board = inventory.boards[name]
        if board.is_local:
            skipped[name] = "deploy: local is the benchmarking machine itself, not a farm board"
            continue
        if board.is_mcu and board.emulator == "qemu":
            skipped[name] = (
                "emulator: qemu runs on the benchmarking machine (kenning starts it), not a "
                "farm board; a farm's microcontroller is flashed and wired (`emulator: none`)"
            )
            continue
        groups[name] = board_resources(board)
        tags = check_tags(board_tags(board), f"board {name}")
        places.append(PlaceSpec(name, (f"{exporter}/{name}/*",), tags))
    if not places:
        why = "; ".join(f"{n}: {reason}" for n, reason in skipped.items()) or "none named"
        raise FarmExportError(f"no board to export ({why})")
    return FarmExport(groups, tuple(places), skipped)


def exporter_yaml(export: FarmExport) -> str:
    """The exporter's configuration file (``labgrid-exporter ... exporter.yaml``)."""
    head = (
        "## labgrid exporter configuration, written by `invoke farm.export` from the inventory\n"
        "## (labgrid reads it as a Jinja2 template: comments start with ##)\n"
    )
    return head + yaml.safe_dump(export.groups, sort_keys=False, default_flow_style=False)


def places_yaml(export: FarmExport) -> str:
    """Kenning's places file (read by :func:`load_places`, applied by :func:`apply_places`)."""
    data = {p.name: {"matches": list(p.matches), "tags": p.tags} for p in export.places}
    head = "# written by `invoke farm.export`; `invoke farm.export --coordinator` applies it\n"
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def write_export(export: FarmExport, folder: Path) -> tuple[Path, Path]:
    """Write ``exporter.yaml`` and ``places.yaml`` into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    exporter, places = folder / EXPORTER_FILE, folder / PLACES_FILE
    exporter.write_text(exporter_yaml(export), encoding="utf-8")
    places.write_text(places_yaml(export), encoding="utf-8")
    return exporter, places


def load_places(path: Path) -> list[PlaceSpec]:
    """The places of a ``places.yaml``.

    Raises
    ------
    FarmExportError
        If the file cannot be read or is not a mapping of places.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FarmExportError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FarmExportError(f"{path}: must map place names to {{matches, tags}}")
    try:
        return [
            PlaceSpec(
                str(name),
                tuple(spec.get("matches", ())),
                check_tags(
                    {str(k): str(v) for k, v in spec.get("tags", {}).items()},
                    f"{path}: place {name}",
                ),
            )
            for name, spec in data.items()
        ]
    except (AttributeError, TypeError) as exc:
        raise FarmExportError(f"{path}: each place needs `matches:` and `tags:` ({exc})") from exc


def _ours(key: str) -> bool:
    return key in _OURS or key.startswith(("runtime_", "tag_"))


def apply_places(
    session: FarmSession, places: Sequence[PlaceSpec], deadline: float | None = None
) -> list[str]:
    """Create the places on the coordinator, or bring existing ones up to date.

    Missing matches are added; kenning's tags are set and kenning's tags the spec no longer
    has are removed (tags set by hand and the lease stay). Returns what changed.

    Raises
    ------
    CoordinatorError, FarmTimeoutError
        If the coordinator refuses or does not answer.
    """
    existing = {place.name: place for place in session.places(deadline)}
    changes = []
    for spec in places:
        place = existing.get(spec.name)
        if place is None:
            session.add_place(spec.name, deadline)
            changes.append(f"{spec.name}: created")
        have = place.matches if place else ()
        for pattern in spec.matches:
            if pattern not in have:
                session.add_match(spec.name, pattern, deadline)
                changes.append(f"{spec.name}: match {pattern}")
        old = dict(place.tags) if place else {}
        tags = {k: "" for k in old if _ours(k) and k != LEASE_TAG and k not in spec.tags}
        tags.update({k: v for k, v in spec.tags.items() if old.get(k) != v})
        if tags:
            session.set_tags(spec.name, tags, deadline)
            shown = " ".join(f"{k}={v}" if v else f"-{k}" for k, v in sorted(tags.items()))
            changes.append(f"{spec.name}: tags {shown}")
    return changes

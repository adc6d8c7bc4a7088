"""Place tags: what kenning writes on a labgrid place and how it reads them back.

labgrid matches reservations on tags (``arch=arm64`` reserves a place whose tags include it;
the place's name is the implicit tag ``name``). Keys follow labgrid's rule
``[a-z][a-z0-9_]+``; values are kept to ``[a-z0-9_]`` so they stay valid if labgrid checks
whole values one day (26.x checks only a prefix).

Kenning's tags on a place made from an inventory board::

    kenning=yes arch=arm64 deploy=script protocol=network runtime_tflite=yes tag_cortex_a72=yes

and for a microcontroller ``arch=mcu_mps2_an386 deploy=mcu machine=mps2_an386 runtime_onnx_c=yes``.

and, while a kenning client holds the place, its lease (see :mod:`kenning.farm.lease`)::

    kenning_lease=<expiry, ms since the epoch>_<reservation token>_<holder, as tag text>
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from kenning.farm.errors import FarmError

if TYPE_CHECKING:
    from kenning.boards.inventory import BoardEntry

TAG_KEY = re.compile(r"[a-z][a-z0-9_]+")
TAG_VALUE = re.compile(r"[a-z0-9_]*")
#: the tag naming a kenning-managed place
KENNING_TAG = "kenning"
#: the tag holding the holder's lease: ``<expiry ms>_<token>``
LEASE_TAG = "kenning_lease"
_LEASE = re.compile(r"(\d+)_([a-z0-9]+)_([a-z0-9_]*)")


def tag_text(text: str) -> str:
    """``text`` as a tag key part or value: lower case, other characters as ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def board_tags(board: BoardEntry) -> dict[str, str]:
    """The tags of the place made from ``board`` (what reservations filter on)."""
    tags = {
        KENNING_TAG: "yes",
        "arch": tag_text(board.build_arch),  # a microcontroller's: mcu_mps2_an386
        "deploy": board.deploy,
        "protocol": board.protocol.kind,
    }
    if board.machine is not None:
        tags["machine"] = tag_text(board.machine)
    tags.update({f"runtime_{tag_text(runtime)}": "yes" for runtime in board.runtimes})
    tags.update({f"tag_{tag_text(tag)}": "yes" for tag in board.tags})
    return tags


def check_tags(tags: Mapping[str, str], what: str) -> dict[str, str]:
    """``tags`` if every key and value is valid, else a :class:`FarmError` naming ``what``.

    Raises
    ------
    FarmError
        On the first invalid key or value.
    """
    for key, value in tags.items():
        if not TAG_KEY.fullmatch(key):
            raise FarmError(f"{what}: tag key {key!r} must match {TAG_KEY.pattern}")
        if not TAG_VALUE.fullmatch(value):
            raise FarmError(f"{what}: tag value {key}={value!r} must match {TAG_VALUE.pattern}")
    return dict(tags)


def parse_filters(items: Iterable[str]) -> dict[str, str]:
    """``["arch=arm64", "runtime_tvm=yes"]`` as a filter mapping.

    Raises
    ------
    FarmError
        If an item has no ``=`` or an invalid key or value.
    """
    filters = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise FarmError(f"filter {item!r} must be KEY=VALUE, e.g. arch=arm64")
        filters[key] = value
    return check_tags(filters, "filter")


def matches(filters: Mapping[str, str], name: str, tags: Mapping[str, str]) -> bool:
    """Whether a place called ``name`` with ``tags`` satisfies ``filters`` (as labgrid does)."""
    have = {**tags, "name": name}
    return all(have.get(key) == value for key, value in filters.items())


class LeaseTag(NamedTuple):
    """A parsed lease: expiry (seconds since the epoch), token and holder (both as tag text)."""

    until: float
    token: str
    holder: str


def lease_value(until: float, token: str, holder: str) -> str:
    """The lease tag's value: expiry (wall clock, ms), the reservation token, the holder."""
    return f"{round(until * 1000)}_{tag_text(token)}_{tag_text(holder)}"


def parse_lease(value: str | None) -> LeaseTag | None:
    """The lease in a tag value, or None if it is not one."""
    found = _LEASE.fullmatch(value or "")
    if not found:
        return None
    return LeaseTag(int(found.group(1)) / 1000, found.group(2), found.group(3))

"""The board inventory: ``inventory.yaml`` read into validated pydantic models.

A board is added by editing the YAML only. Every problem in the file is reported with
the file, the line, the board and the key, e.g.::

    inventory.yaml:14: board 'rpi4-1', key 'arch': 'armv9' is not one of amd64, arm64

To know those lines, :mod:`kenning.boards.yamllines` records the line of every mapping key
and list item by its path (``("boards", "rpi4-1", "arch")``); the ``loc`` of each pydantic
error is looked up in that table. Rules that pydantic cannot place on a key (a password
anywhere in a board) are checked on the raw document first.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

import kenning.boards.mcuentry as mcu
from kenning.boards.errors import InventoryError
from kenning.boards.protocolconfig import (
    NetworkProtocolConfig,
    ProtocolConfig,
)
from kenning.boards.yamllines import Loc
from kenning.core.registry import SHORT_NAMES
from kenning.executors.base import ARCH_ALIASES, docker_arch

#: environment variable naming the inventory file to use
INVENTORY_ENV = "KENNING_INVENTORY"
#: the file name looked up in the current folder, then in the work tree
INVENTORY_FILE = "inventory.yaml"
PASSWORD_MESSAGE = "passwords are not accepted in inventory.yaml; use `key:` or `agent: true`"
BOARD_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
#: ``x86_64`` -> ``amd64``, ``aarch64`` -> ``arm64`` (one mapping for all of kenning)
normalize_arch = docker_arch


def _is_password_key(key: object) -> bool:
    text = str(key).lower()
    return "password" in text or text in {"passwd", "passphrase"}


def password_paths(value: Any, path: Loc = ()) -> Iterable[Loc]:
    """Where a password-like key sits in ``value`` (paths of mapping keys and list indexes)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_password_key(key):
                yield (*path, key)
            yield from password_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from password_paths(item, (*path, index))


def _null_runtime(value: Any) -> Any:
    # YAML reads a bare `null` as None; here it can only mean the runtime called "null"
    return "null" if value is None else value


def _known_runtime(name: str) -> str:
    if name not in SHORT_NAMES["runtime"]:
        valid = ", ".join(sorted(SHORT_NAMES["runtime"]))
        raise ValueError(f"{name!r} is not a runtime; valid runtimes: {valid}")
    return name


class BoardEntry(BaseModel):
    """One board of the inventory (its name is its key under ``boards:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    deploy: Literal["local", "script", "image", "mcu"] = Field(
        "script",
        description="local: this machine; script: wheel + the board's python; "
        "image: docker save -> ssh -> docker load; mcu: a microcontroller running kenning's "
        "firmware (targets/mcu), under QEMU or reached on a serial line",
    )
    arch: Literal["amd64", "arm64"] | None = Field(
        None,  # filled in for local boards, required for SSH boards, none for mcu boards
        validate_default=True,
        description="aarch64 and x86_64 are accepted; a local board defaults to this machine",
    )
    host: str | None = Field(None, validate_default=True)
    port: int = Field(22, strict=True, ge=1, le=65535, description="SSH port")
    user: str | None = Field(None, validate_default=True)
    key: Path | None = Field(None, description="private key file (~ expanded)")
    agent: bool = Field(False, description="authenticate with the SSH agent")
    known_hosts: Path | None = Field(
        None, description="known_hosts file with the board's key (default ~/.ssh/known_hosts)"
    )
    python: str = Field("python3", description="the board's python (script deploy)")
    workdir: str = Field(
        "/tmp/kenning",
        description="each run gets a private folder (mktemp -d) in it; it must "
        "belong to the SSH user (or root) and be writable by nobody else",
    )
    runtimes: list[
        Annotated[str, BeforeValidator(_null_runtime), AfterValidator(_known_runtime)]
    ] = Field(min_length=1)
    protocol: ProtocolConfig = Field(default_factory=NetworkProtocolConfig)
    delegates: list[str] = Field(default_factory=list, description="e.g. libedgetpu.so.1")
    runtime_args: dict[Annotated[str, AfterValidator(_known_runtime)], list[str]] = Field(
        default_factory=dict,
        description="extra inference_server flags per runtime, e.g. {tflite: [--num-threads, 4]}",
    )
    tags: list[str] = Field(default_factory=list)
    machine: str | None = Field(
        None, validate_default=True, description="mcu: a board of targets/mcu/boards/boards.json"
    )
    cpu: str | None = Field(None, description="mcu: the core (default: boards.json's)")
    flash_bytes: int | None = Field(None, strict=True, gt=0, description="mcu: its flash")
    ram_bytes: int | None = Field(None, strict=True, gt=0, description="mcu: its RAM")
    emulator: Literal["qemu", "none"] | None = Field(
        None, description="mcu: qemu (default), or none: a real board on `protocol: serial`"
    )
    secret_file: Annotated[Path | None, AfterValidator(mcu.check_secret_file)] = Field(
        None,
        validate_default=True,
        description="mcu, emulator none: the file with the secret provisioned into its flash",
    )

    @model_validator(mode="before")
    @classmethod
    def _mcu_defaults(cls, data: Any) -> Any:
        return mcu.mcu_defaults(data)

    @field_validator("machine")
    @classmethod
    def _machine(cls, value: str | None, info: ValidationInfo) -> str | None:
        return mcu.check_machine(value, info.data.get("deploy"))

    @field_validator("runtimes")
    @classmethod
    def _mcu_runtimes(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return mcu.check_mcu_runtimes(value, info.data.get("deploy"))

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if any(True for _ in password_paths(data)):
            raise ValueError(PASSWORD_MESSAGE)
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not BOARD_NAME.fullmatch(value):
            raise ValueError(f"board name {value!r} must match {BOARD_NAME.pattern}")
        return value

    @field_validator("arch", mode="before")
    @classmethod
    def _arch_alias(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("deploy") == "mcu":
            if value is not None:
                raise ValueError(
                    "a `deploy: mcu` board has no Linux architecture: its firmware is built "
                    "for its `machine:`; remove `arch:`"
                )
            return None
        if value is None and info.data.get("deploy") == "local":
            value = platform.machine()
        elif value is None:
            raise ValueError("is required (amd64 or arm64)")
        return ARCH_ALIASES.get(value, value) if isinstance(value, str) else value

    @field_validator("host", "user")
    @classmethod
    def _ssh_needs(cls, value: str | None, info: ValidationInfo) -> str | None:
        deploy = info.data.get("deploy")
        if deploy in ("local", "mcu") and value is not None and info.field_name == "host":
            where = "this machine" if deploy == "local" else "QEMU or a serial line"
            raise ValueError(f"a `deploy: {deploy}` board runs on {where} and has no host")
        if deploy in ("script", "image") and not value:
            raise ValueError(f"is required for a `deploy: {deploy}` board")
        return value

    @field_validator("key", "known_hosts")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("protocol", mode="before")
    @classmethod
    def _default_kind(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "kind" not in value:
            return {"kind": "network", **value}
        return value

    @property
    def is_local(self) -> bool:
        """True for the machine kenning runs on (no SSH)."""
        return self.deploy == "local"

    @property
    def is_mcu(self) -> bool:
        """True for a microcontroller running kenning's firmware."""
        return self.deploy == "mcu"

    @property
    def build_arch(self) -> str:
        """What artifacts are built for: ``amd64``, ``arm64``, or ``mcu-MACHINE``."""
        if self.machine is not None:
            return mcu.mcu_arch(self.machine)
        assert self.arch is not None  # required of every other board
        return self.arch

    @property
    def platform(self) -> str:
        """Docker platform string, e.g. ``linux/arm64``."""
        return f"linux/{self.arch}"


class Inventory(BaseModel):
    """All boards, by name, and the one used when none is named."""

    model_config = ConfigDict(extra="forbid")

    boards: dict[str, BoardEntry]
    default: str = Field("local", validate_default=True)
    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("boards"), Mapping):
            return data
        boards = {}
        for key, board in data["boards"].items():
            name = str(key)
            if board is None:
                board = {}
            if isinstance(board, Mapping) and "name" not in board:
                board = {"name": name, **board}
            boards[name] = board
        return {**data, "boards": boards}

    @field_validator("default")
    @classmethod
    def _default_exists(cls, value: str, info: ValidationInfo) -> str:
        boards = info.data.get("boards")
        if boards is not None and value not in boards:
            known = ", ".join(boards) or "none"
            raise ValueError(f"board {value!r} is not defined; boards: {known}")
        return value

    @model_validator(mode="after")
    def _names_match(self) -> Inventory:
        for key, board in self.boards.items():
            if board.name != key:
                raise ValueError(f"board {key!r} is named {board.name!r}; the key is its name")
        return self

    @property
    def source(self) -> Path | None:
        """The file this inventory was loaded from."""
        return self._source

    @property
    def names(self) -> list[str]:
        """Board names in file order."""
        return list(self.boards)

    def board(self, name: str | None = None) -> BoardEntry:
        """The board called ``name`` (default: :attr:`default`).

        Raises
        ------
        InventoryError
            If there is no such board; the message lists the known ones.
        """
        name = name or self.default
        if name not in self.boards:
            where = f"in {self._source}" if self._source else "in the inventory"
            raise InventoryError(
                f"unknown board '{name}'; boards {where}: {', '.join(self.boards)} "
                f"(add one by editing {self._source or INVENTORY_FILE})",
                path=self._source,
            )
        return self.boards[name]

"""The keys of a ``deploy: mcu`` inventory entry: its machine, core, memory and emulator.

A microcontroller board runs kenning's firmware (``targets/mcu``) with the model built in.
Its ``machine:`` names a board of ``targets/mcu/boards/boards.json`` (the firmware is built
for it; ``cpu:``, ``flash_bytes:`` and ``ram_bytes:`` default to that file's); ``emulator:``
says how it runs (``qemu``, the default, or ``none``: a real board on a serial line, flashed
by its owner with the firmware and the secret in ``secret_file:``). Its
architecture for the toolchain is :func:`mcu_arch` of the machine: one firmware per machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo

#: what marks the architecture of a microcontroller board (``mcu-mps2-an386``)
MCU_ARCH_PREFIX = "mcu-"
#: the one runtime a microcontroller serves: the model's C built into the firmware
MCU_RUNTIMES = ("onnx-c",)
#: keys only a ``deploy: mcu`` board has
MCU_KEYS = ("machine", "cpu", "flash_bytes", "ram_bytes", "emulator", "secret_file")


def mcu_arch(machine: str) -> str:
    """The toolchain's architecture of a board of ``machine``: artifacts are made per machine."""
    return f"{MCU_ARCH_PREFIX}{machine}"


def arch_machine(arch: str) -> str | None:
    """The machine of a microcontroller architecture (None: a Linux architecture)."""
    return arch[len(MCU_ARCH_PREFIX) :] if arch.startswith(MCU_ARCH_PREFIX) else None


def _machines() -> dict[str, dict[str, Any]]:
    from kenning.frameworks.mcufirmware import machines

    return machines()


def mcu_defaults(data: Any) -> Any:
    """An entry's raw keys with a ``deploy: mcu`` board's defaults filled in.

    ``cpu``, ``flash_bytes`` and ``ram_bytes`` come from ``boards.json`` (an unknown
    ``machine`` is left for :func:`check_machine` to name), ``emulator`` is ``qemu`` and
    ``runtimes`` ``[onnx-c]``.

    Raises
    ------
    ValueError
        If a board of another kind has one of the microcontroller keys.
    """
    if not isinstance(data, Mapping):
        return data
    if data.get("deploy") != "mcu":
        given = [key for key in MCU_KEYS if data.get(key) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: only for `deploy: mcu` boards "
                f"(this one is `deploy: {data.get('deploy', 'script')}`)"
            )
        return data
    filled = {"emulator": "qemu", "runtimes": list(MCU_RUNTIMES), **data}
    machine = data.get("machine")
    known = _machines() if isinstance(machine, str) else {}
    for key, source in (
        ("cpu", "cpu"),
        ("flash_bytes", "flash_bytes"),
        ("ram_bytes", "ram_bytes"),
    ):
        if machine in known and filled.get(key) is None:
            filled[key] = known[machine][source]
    return filled


def check_machine(value: str | None, deploy: str | None) -> str | None:
    """``machine:`` checked: required for a ``deploy: mcu`` board, a board of boards.json.

    Raises
    ------
    ValueError
        If it is missing on a microcontroller board or names no board of boards.json.
    """
    if deploy != "mcu":
        return value
    known = _machines()
    if value is None:
        raise ValueError(
            f"is required for a `deploy: mcu` board: one of {', '.join(sorted(known))} "
            "(targets/mcu/boards/boards.json)"
        )
    if value not in known:
        raise ValueError(
            f"{value!r} is not a board the firmware is built for; valid machines: "
            f"{', '.join(sorted(known))} (targets/mcu/boards/boards.json)"
        )
    return value


def check_mcu_runtimes(value: list[str], deploy: str | None) -> list[str]:
    """A microcontroller serves only the model built into its firmware (runtime ``onnx-c``).

    Raises
    ------
    ValueError
        If a ``deploy: mcu`` board lists another runtime.
    """
    other = [name for name in value if name not in MCU_RUNTIMES]
    if deploy == "mcu" and other:
        raise ValueError(
            f"{', '.join(other)}: a `deploy: mcu` board serves only the model built into its "
            f"firmware; valid runtimes: {', '.join(MCU_RUNTIMES)}"
        )
    return value


def check_secret_file(value: Path | None, info: ValidationInfo) -> Path | None:
    """``secret_file:`` checked: a real board's (``emulator: none``) alone, and required there.

    An emulated board gets a fresh secret every run, written into its firmware as QEMU
    starts it; a real board keeps the one provisioned into its flash, which the host reads
    from this file (docs/boards.md, "A real board").

    Raises
    ------
    ValueError
        If an emulated board has one, or a real board has none.
    """
    emulator = info.data.get("emulator")
    if emulator == "qemu" and value is not None:
        raise ValueError(
            "only for a real board (`emulator: none`): an emulated board gets a fresh secret "
            "every run; remove it"
        )
    if emulator == "none" and value is None:
        raise ValueError(
            "is required for a real board (`emulator: none`): the file (mode 0600) holding "
            'the secret provisioned into its firmware (docs/boards.md, "A real board")'
        )
    return value.expanduser() if value is not None else None

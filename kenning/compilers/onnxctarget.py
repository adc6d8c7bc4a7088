"""The firmware of an onnx-c model for one microcontroller board (compiler flag ``--target``).

A microcontroller cannot load a model at run time, so for a target board the compiler also
builds the firmware with the model in it (``targets/mcu``,
:mod:`kenning.frameworks.mcufirmware`) into the model's folder as ``firmware.elf``, and
records in ``model.json`` what the ELF takes (``footprint``: flash and RAM, section by
section) and the board it was built for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kenning.compilers.mcufootprint import elf_footprint
from kenning.frameworks.mcufirmware import build, machine

#: the firmware's name in an onnx-c folder
FIRMWARE = "firmware.elf"


def board_limits(target: str) -> dict[str, Any]:
    """The flash and RAM of board ``target`` (``targets/mcu/boards/boards.json``).

    Raises
    ------
    ConfigurationError
        If there is no such board.
    """
    facts = machine(target)
    return {"flash_bytes": int(facts["flash_bytes"]), "ram_bytes": int(facts["ram_bytes"])}


def build_firmware(folder: Path, target: str) -> dict[str, Any]:
    """Build the firmware for ``target`` with the model C in ``folder``; its footprint.

    Raises
    ------
    ModelError
        If the build fails.
    MissingToolError
        If the cross compiler is missing.
    """
    scratch = folder / ".firmware-build"
    try:
        elf = build(target, folder, scratch)
        shutil.copyfile(elf, folder / FIRMWARE)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    footprint = elf_footprint(folder / FIRMWARE)
    summary_path = folder / "model.json"
    summary = json.loads(summary_path.read_text())
    summary["target"] = {"board": target, **machine(target)}
    summary["footprint"] = footprint
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return footprint

"""The target server's firmware: built from ``targets/mcu`` with a model, given the run's secret.

A microcontroller cannot load a model at run time, so the model is compiled into the firmware
(compiler ``onnx-c`` writes its C) and the firmware says which model it holds: MODEL carries
the model's SHA-256 and the firmware refuses any other (docs/protocol.md). The run's secret
is written into a private copy of the ELF (:func:`provision`) just before the board starts,
as it would be flashed with the firmware on a real board: never on a command line.

The firmware's sources are ``targets/mcu`` of kenning's repository, or the folder the
environment variable ``KENNING_MCU_TARGETS`` names when it is set (the image
``kenning/compile-mcu`` sets it to ``/opt/kenning/targets/mcu``, where it copies them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kenning.utils.buildtool import run_build
from kenning.utils.errors import ConfigurationError, MissingToolError

#: where kenning finds the secret's place in the ELF (targets/mcu/src/ksecret.c)
SECRET_MAGIC = b"kenning-secret1\0"
#: bytes the firmware has for the secret
SECRET_MAX = 128
#: the firmware's sources (C, linker scripts, Makefile): ``$KENNING_MCU_TARGETS`` if set
TARGET_DIR = (
    Path(os.environ["KENNING_MCU_TARGETS"])
    if os.environ.get("KENNING_MCU_TARGETS")
    else Path(__file__).resolve().parents[2] / "targets" / "mcu"
)
#: stack the server itself needs besides the model's (it uses under 2 KiB: HMAC contexts)
SERVER_STACK_BYTES = 4096
#: seconds a firmware build may take
BUILD_TIMEOUT_S = 600.0


def machines() -> dict[str, dict[str, Any]]:
    """The microcontroller boards the firmware is built for (``targets/mcu/boards/boards.json``).

    Raises
    ------
    ConfigurationError
        If the firmware's sources are not there (kenning installed without them).
    """
    path = TARGET_DIR / "boards" / "boards.json"
    try:
        data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(
            f"the firmware's sources are not at {TARGET_DIR} ({exc.strerror}): run kenning "
            "from its repository (pip install -e .) to build microcontroller firmware"
        ) from exc
    return data


def machine(name: str) -> dict[str, Any]:
    """One board of :func:`machines`.

    Raises
    ------
    ConfigurationError
        If there is no board of that name.
    """
    known = machines()
    if name not in known:
        raise ConfigurationError(
            f"no microcontroller board {name!r}: the firmware is built for "
            f"{', '.join(sorted(known))} (targets/mcu/boards/)"
        )
    return known[name]


def build(board: str, model_dir: Path | None, out_dir: Path) -> Path:
    """Build the firmware for ``board`` with the model C in ``model_dir``; the ELF's path.

    ``model_dir`` holds ``kenning_model.h`` and the model's C (compiler ``onnx-c``); ``None``
    builds the stand-in model of ``targets/mcu/tests/stub_model``.

    Raises
    ------
    MissingToolError
        If ``make`` or the board's compiler is missing.
    ModelError
        If the build fails (its output's last lines are in the message).
    """
    if board != "host":
        machine(board)
    if shutil.which("make") is None:
        raise MissingToolError("make", "apt-get install make")
    if board != "host" and shutil.which("arm-none-eabi-gcc") is None:
        raise MissingToolError(
            "arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
        )
    model = Path(model_dir) if model_dir else TARGET_DIR / "tests" / "stub_model"
    out_dir = Path(out_dir).resolve()
    command = ["make", "-C", str(TARGET_DIR), f"BOARD={board}", f"MODEL_DIR={model.resolve()}"]
    command += [f"OUT={out_dir}", *_stack_size(model)]
    run_build(command, f"the firmware build for {board}", model, BUILD_TIMEOUT_S)
    return out_dir / "server.elf"


def _stack_size(model: Path) -> list[str]:
    """``STACK_SIZE=`` for the model's activations (they live on the stack) and the server's."""
    try:
        needs = json.loads((model / "model.json").read_text())["stack_bytes"]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # the stand-in model: the linker script's default
    return [f"STACK_SIZE={-(-(int(needs) + SERVER_STACK_BYTES) // 1024) * 1024}"]


def provision(elf: Path, secret: bytes, out: Path) -> Path:
    """A private copy (mode 0600) of the firmware ``elf`` holding ``secret``; its path.

    Raises
    ------
    ConfigurationError
        If the secret is too long, or the ELF has no place for one (not kenning's firmware).
    """
    if len(secret) > SECRET_MAX:
        raise ConfigurationError(
            f"a secret of {len(secret)} bytes does not fit the firmware's {SECRET_MAX}"
        )
    image = bytearray(Path(elf).read_bytes())
    at = image.find(SECRET_MAGIC)
    if at < 0 or image.find(SECRET_MAGIC, at + 1) >= 0:
        raise ConfigurationError(
            f"{elf} has no single place for the run's secret: it is not kenning's target "
            "firmware (targets/mcu), or it was built from other sources"
        )
    place = at + len(SECRET_MAGIC)
    image[place : place + 4] = len(secret).to_bytes(4, "little")
    image[place + 4 : place + 4 + SECRET_MAX] = secret.ljust(SECRET_MAX, b"\0")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=".firmware-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(image)
    os.replace(name, out)
    return out

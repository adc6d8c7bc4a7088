r"""Write a board's secret into a copy of kenning's firmware, ready to flash to a real board.

A real microcontroller (an inventory board with ``deploy: mcu`` and ``emulator: none``) keeps
the secret its firmware was provisioned with; the host proves it in every session's handshake
and reads it from the inventory's ``secret_file:``. Example::

    python -m kenning.scenarios.provision_firmware \
        build/compiled/torch-onnx-c-mcu-mps2-an386.onnx-c board.secret build/server.elf
    openocd -f board/<board>.cfg -c "program build/server.elf verify reset exit"

FIRMWARE is ``firmware.elf`` or the folder compiler ``onnx-c`` wrote it into. A SECRET file
that does not exist is created with a fresh secret (mode 0600); an existing one is used as it
is (it must be readable by you alone). The secret never appears on a command line. OUTPUT
(mode 0600) holds the secret: flash it, keep it private and erase the board when it leaves
your hands.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from kenning.frameworks.mcufirmware import provision
from kenning.runtimeprotocols.handshake import new_secret, read_secret
from kenning.scenarios.common import check_output_path, run
from kenning.utils.argparser import ArgumentParser
from kenning.utils.errors import ConfigurationError


def parser() -> argparse.ArgumentParser:
    """The command line of the scenario."""
    p = ArgumentParser(
        prog="python -m kenning.scenarios.provision_firmware",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("firmware", type=Path, help="firmware.elf, or the folder onnx-c wrote")
    p.add_argument("secret", type=Path, help="the board's secret file (created if missing)")
    p.add_argument("output", type=Path, help="the provisioned firmware to write (mode 0600)")
    return p


def _firmware(path: Path) -> Path:
    elf = path / "firmware.elf" if path.is_dir() else path
    if not elf.is_file():
        raise ConfigurationError(
            f"{elf} is missing: compile the deployment with `onnx-c` and `--target MACHINE` "
            "(the toolchain does, for a `deploy: mcu` board), then give its folder"
        )
    return elf


def _write_new_secret(path: Path) -> None:
    """Write a fresh secret to ``path``, which must not exist (mode 0600 from the start)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot create the secret file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as out:
        out.write(new_secret() + "\n")


def main(argv: Sequence[str]) -> int:
    """Parse ``argv``, provision the firmware and say what to do with it."""
    args = parser().parse_args(argv)
    elf = _firmware(args.firmware)
    output = check_output_path(args.output)
    if output.resolve() in (elf.resolve(), args.secret.resolve()):
        raise ConfigurationError(
            f"the output {output} would replace an input; choose another path (server.elf)"
        )
    made = not args.secret.exists()
    if made:
        args.secret.parent.mkdir(parents=True, exist_ok=True)
        _write_new_secret(args.secret)
    provision(elf, read_secret(args.secret), output)
    if made:
        print(f"wrote a fresh secret to {args.secret} (mode 0600)")
    print(
        f"firmware with the board's secret: {output} (mode 0600); flash it, then give the "
        f"board `secret_file: {args.secret}` in inventory.yaml"
    )
    return 0


if __name__ == "__main__":
    run(main)

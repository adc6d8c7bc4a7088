"""Helpers for tests of the microcontroller target: build firmware, start it under QEMU, talk."""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from capabilities import missing

from kenning.boards.qemu import RunningBoard, qemu_board
from kenning.frameworks.mcufirmware import build
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.serial import SerialProtocol

#: the boards every firmware test runs on
BOARDS = ("mps2-an386", "mps3-an547")
#: the stand-in model's identity (targets/mcu/tests/stub_model: SHA-256 of b"stub")
STUB_SHA256 = hashlib.sha256(b"stub").digest()


def need_toolchain() -> None:
    """Skip (a failure in CI) without the cross compiler and QEMU."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make"):
        if shutil.which(tool) is None:
            missing("mcu", f"{tool} is not installed")


def digits_onnx_file(trained: Path, out: Path) -> Path:
    """The trained digits CNN (``PyTorchDigitsCNN`` weights ``trained``) exported to ``out``."""
    from kenning.compilers.onnx import ONNXCompiler
    from kenning.datasets.digits import DigitsDataset
    from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN

    dataset = DigitsDataset(None)
    wrapper = PyTorchDigitsCNN(trained, dataset, from_file=True)
    wrapper.prepare_model()
    out.parent.mkdir(parents=True, exist_ok=True)
    ONNXCompiler(dataset, out).compile_wrapper(wrapper)
    return out


def stub_firmware(board: str, folder: Path) -> Path:
    """The firmware with the stand-in model for ``board``, built into ``folder``."""
    need_toolchain()
    return build(board, None, folder / board)


@contextmanager
def started(firmware: Path, board: str, folder: Path) -> Iterator[tuple[RunningBoard, Path]]:
    """The firmware running under QEMU with a fresh secret; the board and the secret's file."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    secret_file = folder / "secret"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    with qemu_board(firmware, board, secret.encode(), folder) as running:
        yield running, secret_file


def client(line: str, secret_file: Path, timeout: float = 10.0) -> ProtocolClient:
    """A host's client for the board's UART (not yet connected)."""
    return ProtocolClient(SerialProtocol(port=line, secret_file=secret_file, timeout=timeout))

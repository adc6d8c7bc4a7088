"""Check that a native library is whole before the dynamic loader maps it.

Loading an ELF file whose segments reach past its end (an upload cut short) does not fail
cleanly: the loader maps pages the file does not have and the process dies with SIGBUS
when they are touched. :func:`check_elf` reads the ELF and program/section header tables
and refuses such a file with an error that names it.
"""

from __future__ import annotations

import struct
from pathlib import Path

from kenning.utils.errors import ModelError

_MAGIC = b"\x7fELF"
_NOBITS = 8  # SHT_NOBITS: a section with no bytes in the file (.bss)


def check_elf(path: Path) -> None:
    """Raise :class:`ModelError` unless ``path`` is an ELF file whose every part is in it.

    Raises
    ------
    ModelError
        If the file is not ELF, or a header table, segment or section reaches past its end.
    """
    path = Path(path)
    data = path.read_bytes()
    size = len(data)
    if len(data) < 64 or data[:4] != _MAGIC or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise ModelError(f"{path} is not an ELF shared library ({size} bytes)", path)
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if wide:
        phoff, shoff = struct.unpack_from(order + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", data, 54)
    else:
        phoff, shoff = struct.unpack_from(order + "II", data, 28)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", data, 42)

    def need(end: int, what: str) -> None:
        if end > size:
            raise ModelError(
                f"{path} is cut short: its {what} ends at byte {end}, the file has {size} "
                "(an incomplete upload or copy; send the whole library again)",
                path,
            )

    need(phoff + phentsize * phnum, "program header table")
    for i in range(phnum):
        at = phoff + i * phentsize
        if wide:
            offset, filesz = struct.unpack_from(order + "Q8x8xQ", data, at + 8)
        else:
            offset, filesz = struct.unpack_from(order + "I8xI", data, at + 4)
        need(offset + filesz, f"segment {i}")
    if shoff == 0:
        return
    need(shoff + shentsize * shnum, "section header table")
    for i in range(shnum):
        at = shoff + i * shentsize
        if wide:
            (kind,) = struct.unpack_from(order + "I", data, at + 4)
            offset, length = struct.unpack_from(order + "QQ", data, at + 24)
        else:
            (kind,) = struct.unpack_from(order + "I", data, at + 4)
            offset, length = struct.unpack_from(order + "II", data, at + 16)
        if kind != _NOBITS:
            need(offset + length, f"section {i}")

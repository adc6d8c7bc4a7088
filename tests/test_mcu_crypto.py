"""The microcontroller server's SHA-256, HMAC-SHA256 and CRC32 in C.

``targets/mcu/src/{sha256,crc32}.c`` are compiled with the host ``cc`` together with a
small driver (written into a temporary directory) and compared against ``hashlib``,
``hmac`` and ``zlib``; the same sources are compiled once for a Cortex-M4 with
``arm-none-eabi-gcc``.

Notes
-----
The driver reads the message on stdin and takes its mode, key and split points from
argv. It prints two lines: the one-shot result, then the result of feeding the message
in pieces cut at the split points (through ``*_update`` / ``crc32_update`` chaining).

Covered: empty input, 1 byte, the padding edges 55/56/63/64/65 bytes, 1 MB of random
bytes, keys of 0, 32, 64, 65 and 200 bytes, random split points, and the golden values of
``docs/protocol.md`` ("Wire format", "Handshake", "Frame authentication").
"""

from __future__ import annotations

import hashlib
import hmac
import random
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "targets" / "mcu" / "src"
SOURCES = [SRC / "sha256.c", SRC / "crc32.c"]
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "sha256.h"

static uint8_t *read_all(size_t *n)
{
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    *n = len;
    return buf;
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t i, n = strcmp(s, "-") == 0 ? 0 : strlen(s) / 2;
    for (i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void hex(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    static uint8_t key[4096], a[4096], b[4096];
    uint8_t out[32];
    size_t n, keylen = 0, pos = 0, cut;
    uint8_t *msg;
    int i, first = 2;

    if (argc < 2) {
        return 2;
    }
    if (strcmp(argv[1], "cteq") == 0) {
        size_t na = unhex(argv[2], a), nb = unhex(argv[3], b);
        printf("%d\n", ct_equal(a, b, na < nb ? na : nb));
        return 0;
    }
    if (strcmp(argv[1], "hmac") == 0) {
        keylen = unhex(argv[2], key);
        first = 3;
    }
    msg = read_all(&n);
    if (!msg) {
        return 3;
    }
    if (strcmp(argv[1], "crc32") == 0) {
        uint32_t crc = 0;
        printf("%08lx\n", (unsigned long)crc32_update(0, msg, n));
        for (i = first; i <= argc; i++) {
            cut = i < argc ? (size_t)strtoul(argv[i], NULL, 10) : n;
            crc = crc32_update(crc, msg + pos, cut - pos);
            pos = cut;
        }
        printf("%08lx\n", (unsigned long)crc);
    } else if (strcmp(argv[1], "sha256") == 0) {
        sha256_ctx c;
        sha256(msg, n, out);
        hex(out, 32);
        sha256_init(&c);
        for (i = first; i <= argc; i++) {
            cut = i < argc ? (size_t)strtoul(argv[i], NULL, 10) : n;
            sha256_update(&c, msg + pos, cut - pos);
            pos = cut;
        }
        sha256_final(&c, out);
        hex(out, 32);
    } else if (strcmp(argv[1], "hmac") == 0) {
        hmac_sha256_ctx c;
        hmac_sha256(key, keylen, msg, n, out);
        hex(out, 32);
        hmac_sha256_init(&c, key, keylen);
        for (i = first; i <= argc; i++) {
            cut = i < argc ? (size_t)strtoul(argv[i], NULL, 10) : n;
            hmac_sha256_update(&c, msg + pos, cut - pos);
            pos = cut;
        }
        hmac_sha256_final(&c, out);
        hex(out, 32);
    } else {
        return 2;
    }
    free(msg);
    return 0;
}
"""

# docs/protocol.md, "Handshake" and "Frame authentication"
SECRET = b"0123456789abcdef0123456789abcdef"
CLIENT_NONCE = bytes(range(32))
SERVER_NONCE = bytes(range(32, 64))
TAGGED_DATA_HEADER = bytes.fromhex(
    "4b 45 4e 4e 03 02 02 00 03 00 00 00 03 00 00 00 00 00 00 00 27 2a 2e 5d"
)


def _compile(compiler: str, args: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        [compiler, *CFLAGS, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no host C compiler (`cc`) on PATH to build the MCU crypto sources")
    tmp = tmp_path_factory.mktemp("mcu_crypto")
    (tmp / "driver.c").write_text(DRIVER)
    exe = tmp / "driver"
    _compile("cc", ["-I", str(SRC), "driver.c", *map(str, SOURCES), "-o", str(exe)], tmp)
    return exe


def _run(exe: Path, *args: str, data: bytes = b"") -> list[str]:
    proc = subprocess.run(
        [str(exe), *args], input=data, capture_output=True, check=True, timeout=60
    )
    return proc.stdout.decode().split()


def _sha256(exe: Path, msg: bytes, splits: list[int] | None = None) -> bytes:
    one, pieces = _run(exe, "sha256", *map(str, splits or []), data=msg)
    assert one == pieces
    return bytes.fromhex(one)


def _hmac(exe: Path, key: bytes, msg: bytes, splits: list[int] | None = None) -> bytes:
    one, pieces = _run(exe, "hmac", key.hex() or "-", *map(str, splits or []), data=msg)
    assert one == pieces
    return bytes.fromhex(one)


def _crc32(exe: Path, msg: bytes, splits: list[int] | None = None) -> int:
    one, pieces = _run(exe, "crc32", *map(str, splits or []), data=msg)
    assert one == pieces
    return int(one, 16)


def _splits(rng: random.Random, n: int, k: int) -> list[int]:
    """K sorted cut points in [0, n], repeats (empty updates) allowed."""
    return sorted(rng.randint(0, n) for _ in range(k))


SIZES = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000]
KEY_SIZES = [0, 32, 64, 65, 200]


@pytest.mark.parametrize("size", SIZES)
def test_sha256_matches_hashlib(driver: Path, size: int) -> None:
    msg = random.Random(size).randbytes(size)
    assert _sha256(driver, msg) == hashlib.sha256(msg).digest()


@pytest.mark.parametrize("size", SIZES)
def test_crc32_matches_zlib(driver: Path, size: int) -> None:
    msg = random.Random(size).randbytes(size)
    assert _crc32(driver, msg) == zlib.crc32(msg)


@pytest.mark.parametrize("keylen", KEY_SIZES)
@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65])
def test_hmac_matches_stdlib(driver: Path, keylen: int, size: int) -> None:
    rng = random.Random(1000 * keylen + size)
    key, msg = rng.randbytes(keylen), rng.randbytes(size)
    assert _hmac(driver, key, msg) == hmac.new(key, msg, "sha256").digest()


def test_one_megabyte(driver: Path) -> None:
    rng = random.Random(1)
    msg = rng.randbytes(1 << 20)
    splits = _splits(rng, len(msg), 20)
    key = rng.randbytes(32)
    assert _sha256(driver, msg, splits) == hashlib.sha256(msg).digest()
    assert _hmac(driver, key, msg, splits) == hmac.new(key, msg, "sha256").digest()
    assert _crc32(driver, msg, splits) == zlib.crc32(msg)


@pytest.mark.parametrize("seed", range(8))
def test_incremental_random_splits(driver: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    msg = rng.randbytes(rng.randint(0, 700))
    key = rng.randbytes(rng.choice(KEY_SIZES))
    splits = _splits(rng, len(msg), rng.randint(1, 12))
    assert _sha256(driver, msg, splits) == hashlib.sha256(msg).digest()
    assert _hmac(driver, key, msg, splits) == hmac.new(key, msg, "sha256").digest()
    assert _crc32(driver, msg, splits) == zlib.crc32(msg)


def test_ct_equal(driver: Path) -> None:
    assert _run(driver, "cteq", "-", "-") == ["1"]
    assert _run(driver, "cteq", "00112233", "00112233") == ["1"]
    assert _run(driver, "cteq", "00112233", "00112232") == ["0"]
    assert _run(driver, "cteq", "80112233", "00112233") == ["0"]
    assert _run(driver, "cteq", "ff" * 16, "fe" + "ff" * 15) == ["0"]


@pytest.mark.parametrize(
    ("label", "suite", "key"),
    [
        ("host", 1, "5d6bd0546d5c2fd9ea4eb0e323934d775ec5d5c5343216ecddd0bdd9fdc73056"),
        ("host", 2, "b5d6f3f3a0c1bc6911b8410e6ce58d63fc21f2b5ca6af55ec92f903a2dc75093"),
        ("target", 2, "39d00f4fac09abe97871a63c02212072ac067fb610b10ec5ce039594a3ab97e9"),
    ],
)
def test_golden_session_keys(driver: Path, label: str, suite: int, key: str) -> None:
    msg = f"kenning frames {label} v3".encode() + CLIENT_NONCE + SERVER_NONCE + bytes([suite])
    assert _hmac(driver, SECRET, msg, [22, 54]).hex() == key


def test_golden_handshake_proofs(driver: Path) -> None:
    suite = bytes([2])
    auth = _hmac(driver, SECRET, b"kenning host v3" + SERVER_NONCE + CLIENT_NONCE + suite)
    ok = _hmac(driver, SECRET, b"kenning target v3" + CLIENT_NONCE + SERVER_NONCE + suite)
    assert auth == bytes.fromhex(
        "ea 83 0c 18 3c aa 10 19 73 61 66 4c ed 69 6f 1e"
        "67 75 80 66 20 3c 60 98 86 de c6 ae de a8 d2 d4"
    )
    assert ok == bytes.fromhex(
        "ed dd 67 db 7b 6d a7 41 95 c4 de e8 63 ad 45 65"
        "de ef d0 79 2a 58 8c 65 4e 50 2e 5c 6f bd ac c0"
    )


def test_golden_hmac_frame_tag(driver: Path) -> None:
    host_key = bytes.fromhex("5d6bd0546d5c2fd9ea4eb0e323934d775ec5d5c5343216ecddd0bdd9fdc73056")
    payload = b"\x01\x02\x03"
    msg = (0).to_bytes(8, "big") + TAGGED_DATA_HEADER + payload
    # as a server tags a frame: number, then header, then payload as it streams in
    tag = _hmac(driver, host_key, msg, [8, 32])[:16]
    assert tag == bytes.fromhex("60 f3 50 31 09 6f 71 2a 59 74 fe cf be 36 26 eb")


@pytest.mark.parametrize(
    ("frame", "payload_crc"),
    [
        ("4b 45 4e 4e 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 08 8a d7 ed", None),
        ("4b 45 4e 4e 03 02 00 00 03 00 00 00 03 00 00 00 1d 80 bc 55 87 3e 77 ac", "010203"),
        ("4b 45 4e 4e 03 03 01 00 06 00 00 00 04 00 00 00 11 cd 82 ed f8 fb 0e ac", "61626364"),
        ("4b 45 4e 4e 03 03 00 00 06 00 00 00 02 00 00 00 70 49 82 fd 57 20 7f 8f", "6566"),
        ("4b 45 4e 4e 03 08 00 00 20 00 00 00 20 00 00 00 8a 7e 26 91 d2 cc 44 5b", None),
        ("4b 45 4e 4e 03 00 00 00 20 00 00 00 20 00 00 00 c4 03 51 6d 5e 85 5a 67", None),
        (TAGGED_DATA_HEADER.hex(), None),
    ],
    ids=["ok", "data", "model-1", "model-2", "hello", "ok-auth", "tagged-data"],
)
def test_golden_header_crcs(driver: Path, frame: str, payload_crc: str | None) -> None:
    header = bytes.fromhex(frame)
    assert _crc32(driver, header[:20], [4, 5, 6]) == int.from_bytes(header[20:24], "little")
    if payload_crc is not None:
        expected = int.from_bytes(header[16:20], "little")
        assert _crc32(driver, bytes.fromhex(payload_crc)) == expected


def test_builds_for_cortex_m4(tmp_path: Path) -> None:
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc not on PATH: cannot check the Cortex-M4 build")
    objects = []
    for src in SOURCES:
        obj = tmp_path / (src.stem + ".o")
        _compile(gcc, ["-mcpu=cortex-m4", "-mthumb", "-c", str(src), "-o", str(obj)], tmp_path)
        objects.append(str(obj))
    nm = shutil.which("arm-none-eabi-nm")
    if nm is not None:
        # freestanding: nothing from libc but <string.h>'s memcpy / memset
        out = subprocess.run([nm, "-u", *objects], capture_output=True, text=True, check=True)
        undefined = {line.split()[-1] for line in out.stdout.splitlines() if " U " in line}
        assert undefined <= {"memcpy", "memset"}, undefined

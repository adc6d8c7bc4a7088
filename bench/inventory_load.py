"""How long an inventory of many boards takes to load, and the memory it takes.

For each size (1,000, 8,000 and 70,000 boards by default) it writes an inventory of that many
SSH boards, loads it with :func:`kenning.boards.inventoryfile.load_inventory` in a process of
its own and prints the load time and the process's peak resident memory (above what the
process held before loading) side by side. Loading is linear: time and memory per board stay
the same as the inventory grows.

    python bench/inventory_load.py                 # about half a minute on 2 cores
    python bench/inventory_load.py --sizes 1000 8000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_MEASURE = """
import json, resource, sys, time
from kenning.boards.inventoryfile import load_inventory
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
inventory = load_inventory(sys.argv[1])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"boards": len(inventory.boards), "seconds": seconds, "kib": peak - before}))
"""


def write_inventory(path: Path, boards: int) -> Path:
    """An inventory of ``boards`` boards: this machine and SSH boards in block style."""
    with path.open("w") as out:
        out.write("default: local\nboards:\n  local: {deploy: local, runtimes: [onnxruntime]}\n")
        for i in range(boards - 1):
            out.write(
                f"  board-{i}:\n    host: board-{i}.lan\n    port: 22\n    user: pi\n"
                f"    key: ~/.ssh/id_ed25519\n    arch: arm64\n"
                f"    runtimes: [tflite, onnxruntime]\n    tags: [rack-{i % 40}]\n"
            )
    return path


def measure(path: Path) -> dict[str, float]:
    """Load ``path`` in a fresh process: boards, seconds, peak memory above the start (KiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Print load time and peak memory per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 8000, 70000])
    args = parser.parse_args()
    heads = ("boards", "MB file", "load s", "µs/board", "peak MB", "kB/board")
    print(" ".join(f"{h:>9}" for h in heads))
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            path = write_inventory(Path(folder) / f"inventory-{size}.yaml", size)
            got = measure(path)
            print(
                f"{size:>9,} {path.stat().st_size / 1e6:>9.1f} {got['seconds']:>9.2f} "
                f"{got['seconds'] / size * 1e6:>9.0f} {got['kib'] / 1024:>9.0f} "
                f"{got['kib'] / size:>9.1f}"
            )


if __name__ == "__main__":
    main()

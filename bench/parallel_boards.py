"""Three boards benched one after another, then at once (``invoke bench --workers 1`` vs 0).

One scenario (an ONNX MLP of 20 features, 3 classes; deployments ``ort`` and ``tvm``; 300
measured samples after 10 warm-up inferences each) on three boards of one inventory, in two
set-ups:

* ``local``: three ``deploy: local`` boards, i.e. three servers on this machine. Host and
  targets share its cores, so this is bounded by the CPU (2 cores here).
* ``uart``: three serial boards, each a server on one end of a pseudo-terminal pair paced like
  a UART at 115200 baud (:class:`~kenning.runtimeprotocols.ptylink.PtyLink`). Each sample
  waits on the line, as with real boards on serial consoles, so the workers overlap waits.

Each figure is the wall time of the whole ``invoke bench`` (references, one compile per
architecture and deployment, six benchmark runs, the report), with the speed-up
``sequential / parallel``. Prints one JSON line per set-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from ownmodels import onnx_mlp  # noqa: E402

from kenning.runtimeprotocols.ptylink import PtyLink  # noqa: E402

BOARDS = ("b1", "b2", "b3")


def _bench(folder: Path, inventory: Path, workers: int) -> float:
    build = folder / f"build-{workers}"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "bench", "--scenario", str(folder / "par.yaml"),
         "--board", "par", "--executor", "local", "--build", str(build),
         "--workers", str(workers)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
        env={**__import__("os").environ, "KENNING_INVENTORY": str(inventory)},
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout[-2000:] + done.stderr[-3000:])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--setup", choices=["local", "uart", "both"], default="both")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    setups = ["local", "uart"] if args.setup == "both" else [args.setup]
    for setup in setups:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            folder = Path(tmp)
            onnx_mlp(folder / "mlp")
            (folder / "par.yaml").write_text(
                "name: par\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
                "deployments:\n  ort: {runtime: onnxruntime}\n"
                "  tvm: {chain: [tvm], runtime: tvm}\n"
                f"measure: {{min-samples: {args.samples}}}\n"
            )
            boards = {}
            for name in BOARDS:
                entry = {"deploy": "local", "runtimes": ["onnxruntime", "tvm"], "tags": ["par"]}
                if setup == "uart":
                    board_end, host_end = stack.enter_context(PtyLink(115200))
                    entry["protocol"] = {"kind": "serial", "device": host_end,
                                         "board_device": board_end, "baud": 115200}  # fmt: skip
                boards[name] = entry
            inventory = folder / "inventory.yaml"
            inventory.write_text(yaml.safe_dump({"default": "b1", "boards": boards}))
            sequential = _bench(folder, inventory, 1)
            parallel = _bench(folder, inventory, 0)
        print(json.dumps({"setup": setup, "boards": len(BOARDS), "deployments": 2,
                          "samples": args.samples, "sequential_s": round(sequential, 1),
                          "parallel_s": round(parallel, 1),
                          "speedup": round(sequential / parallel, 2)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

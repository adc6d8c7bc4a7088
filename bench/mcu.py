"""The digits CNN on emulated microcontrollers beside TFLite on this machine, in one run.

Trains PyTorchDigitsCNN briefly on digits, exports it to ONNX, compiles it to C (compiler
``onnx-c``) and builds the target server's firmware with it for each emulated board
(``mps2-an386``: Cortex-M4, ``mps3-an547``: Cortex-M55). Each firmware runs under
``qemu-system-arm -icount shift=0`` and is driven over its UART with the ProtocolClient:
DATA, PROCESS, OUTPUT and STATS for ``--samples`` validation samples, one sample each.
The same ONNX model is converted to TFLite (onnx2tf, offline) and timed in-process on this
machine with the TFLite interpreter; if that conversion fails, onnxruntime takes its place
and the output says so.

QEMU TIME IS EMULATED, NOT SILICON TIME. With ``-icount shift=0`` every guest instruction
advances the emulated clock by exactly 1 ns, so the on-target figures are instruction
counts (deterministic, the same on every machine), not what a real Cortex-M4 or M55 would
take (a real core at 25 or 32 MHz takes its own, longer, time; memory wait states, caches
and the FPU's timing are not modelled).
Definitions:
*cycles* - the firmware's own measure of one inference: its cycle counter is SysTick (QEMU's
DWT counter reads 0) at 25 MHz (m4) or 32 MHz (m55) of emulated time, read around
``kenning_model_run`` and reported by STATS ``inference_cycles``;
*instructions* - cycles x 1e9 / cycles_hz = emulated ns = guest instructions (resolution one
SysTick tick: 40 on m4, 31.25 on m55; the 1 ms SysTick interrupt's handler runs inside the
window and is counted too);
*flash*, *RAM* - from the ELF (kenning.compilers.mcufootprint.elf_footprint: flash = text +
rodata + data, RAM = data + bss + the stack the linker script reserves);
*stack high-water* - the deepest the firmware's stack has been, as the firmware reports it
(painted stack);
*max abs error* - the largest absolute difference of any output value from onnxruntime on
this machine, over all samples;
*local latency* - wall time of one ``invoke()`` (one sample, one thread), p50 after 50
warm-up runs; *local flash* - the model file's size; *local RSS delta* - this process's
resident memory after creating the interpreter, allocating tensors and one inference, minus
before (an upper bound on the interpreter and its arena, not the arena alone).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from kenning.boards.qemu import qemu_board
from kenning.compilers.mcufootprint import elf_footprint
from kenning.core.iospec import IOSpec
from kenning.frameworks.mcufirmware import build, machine
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.serial import SerialProtocol

BOARDS = ("mps2-an386", "mps3-an547")


def rss_bytes() -> int:
    """This process's resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def spread(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "min": round(float(arr.min()), 1),
        "p50": round(float(np.median(arr)), 1),
        "max": round(float(arr.max()), 1),
        "stdev": round(float(arr.std()), 1),
    }


def prepare_model(folder: Path, epochs: int) -> tuple[Path, Path, Any]:
    """Train, export to ONNX and compile to C; the ONNX file, the C folder and the dataset."""
    from kenning.compilers.onnx import ONNXCompiler
    from kenning.compilers.onnxc import ONNXToCCompiler
    from kenning.datasets.digits import DigitsDataset
    from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN

    dataset = DigitsDataset(None)
    pth, onnx_path, cfolder = folder / "digits.pth", folder / "digits.onnx", folder / "digits-c"
    wrapper = PyTorchDigitsCNN(pth, dataset, from_file=False)
    wrapper.prepare_model()
    wrapper.train_model(batch_size=32, learning_rate=0.002, epochs=epochs, logdir=None)
    wrapper.save_model(pth)
    wrapper = PyTorchDigitsCNN(pth, dataset, from_file=True)
    wrapper.prepare_model()
    ONNXCompiler(dataset, onnx_path).compile_wrapper(wrapper)
    ONNXToCCompiler(None, cfolder).compile(onnx_path, IOSpec.load(onnx_path))
    return onnx_path, cfolder, dataset


def run_board(
    board: str,
    elf: Path,
    cfolder: Path,
    spec: IOSpec,
    inputs: np.ndarray,
    reference: np.ndarray,
    workdir: Path,
) -> dict[str, Any]:
    """Every sample through the firmware on ``board`` under QEMU; the board's figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    secret_file = workdir / "secret"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    hz = machine(board)["cycles_hz"]
    cycles: list[int] = []
    exchange: list[float] = []
    max_err = 0.0
    with qemu_board(elf, board, secret.encode(), workdir) as running:
        protocol = SerialProtocol(port=running.line, secret_file=str(secret_file), timeout=30.0)
        with ProtocolClient(protocol) as host:
            host.upload_io_spec(spec)
            info = host.upload_model(cfolder)
            host.download_statistics()  # nothing before the first sample
            for x, ref in zip(inputs, reference, strict=True):
                start = time.perf_counter()
                host.upload_input(x[None].tobytes())
                host.request_processing()
                out = np.frombuffer(bytes(host.download_output()), dtype=np.float32)
                stats = host.download_statistics()
                exchange.append(time.perf_counter() - start)
                cycles += stats["inference_cycles"]
                max_err = max(max_err, float(np.abs(out - ref.ravel()).max()))
    footprint = elf_footprint(elf)
    instructions = [c * 1e9 / hz for c in cycles]
    return {
        "cpu": info["cpu"],
        "cycles_hz": hz,
        "samples": len(cycles),
        "cycles": spread([float(c) for c in cycles]),
        "instructions": spread(instructions),
        "emulated_ms_p50": round(statistics.median(instructions) / 1e6, 3),
        "flash_bytes": footprint["flash"],
        "ram_bytes": footprint["ram"],
        "elf_sections": {k: footprint[k] for k in ("text", "data", "bss", "stack")},
        "stack_bytes": stats["stack_bytes"],
        "stack_high_water_bytes": stats["stack_high_water_bytes"],
        "max_abs_error_vs_onnxruntime": float(f"{max_err:.3g}"),
        "qemu_wall_exchange_ms_p50": round(statistics.median(exchange) * 1e3, 2),
        "firmware_model": f"{info['model']} sha256 {info['sha256'][:16]}...",
    }


def to_tflite(onnx_path: Path, folder: Path) -> tuple[Path | None, str]:
    """The ONNX model as float32 TFLite via onnx2tf, or None and why not."""
    try:
        import onnx2tf  # type: ignore[import-untyped]

        out = folder / "tflite"
        onnx2tf.convert(
            input_onnx_file_path=str(onnx_path), output_folder_path=str(out), non_verbose=True
        )
        path = out / f"{onnx_path.stem}_float32.tflite"
        if not path.is_file():
            return None, f"onnx2tf wrote no {path.name}"
        return path, f"onnx2tf {onnx2tf.__version__}"
    except Exception as exc:  # noqa: BLE001 - any failure means: fall back, and say why
        return None, f"{type(exc).__name__}: {exc}"[:200]


def local_tflite(path: Path, inputs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    from kenning.frameworks.tflite import tflite_backend

    backend = tflite_backend()
    before = rss_bytes()
    interp = backend.interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    (inp,), (outp,) = interp.get_input_details(), interp.get_output_details()
    nhwc = tuple(inp["shape"]) != inputs.shape[1:] and len(inputs.shape) == 4

    def feed(x: np.ndarray) -> None:
        x = x[None]
        interp.set_tensor(inp["index"], x.transpose(0, 2, 3, 1) if nhwc else x)

    feed(inputs[0])
    interp.invoke()
    rss_delta = rss_bytes() - before
    for x in inputs[:50]:
        feed(x)
        interp.invoke()
    times, max_err = [], 0.0
    for x, ref in zip(inputs, reference, strict=True):
        feed(x)
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
        out = interp.get_tensor(outp["index"])
        max_err = max(max_err, float(np.abs(out.ravel() - ref.ravel()).max()))
    return {
        "runtime": f"{backend.name} {backend.version} (default delegate, 1 thread)",
        "input_layout": "NHWC (onnx2tf transposes it)" if nhwc else "NCHW",
        "latency_us_p50": round(statistics.median(times) * 1e6, 1),
        "latency_us_p99": round(float(np.percentile(times, 99)) * 1e6, 1),
        "flash_bytes": path.stat().st_size,
        "rss_delta_bytes": rss_delta,
        "max_abs_error_vs_onnxruntime": float(f"{max_err:.3g}"),
    }


def local_onnxruntime(path: Path, inputs: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """onnxruntime's outputs (the reference) and its figures on this machine."""
    import onnxruntime as ort

    before = rss_bytes()
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    session.run(None, {name: inputs[:1]})
    rss_delta = rss_bytes() - before
    for x in inputs[:50]:
        session.run(None, {name: x[None]})
    outputs, times = [], []
    for x in inputs:
        start = time.perf_counter()
        (out,) = session.run(None, {name: x[None]})
        times.append(time.perf_counter() - start)
        outputs.append(out[0])
    return np.asarray(outputs), {
        "runtime": f"onnxruntime {ort.__version__} (CPUExecutionProvider, 1 thread)",
        "latency_us_p50": round(statistics.median(times) * 1e6, 1),
        "latency_us_p99": round(float(np.percentile(times, 99)) * 1e6, 1),
        "flash_bytes": path.stat().st_size,
        "rss_delta_bytes": rss_delta,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--samples", type=int, default=200, help="validation samples, one each")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs of the CNN")
    parser.add_argument("--workdir", type=Path, help="keep the model and firmware here")
    parser.add_argument("--out-json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    print(
        "QEMU figures are EMULATED time (-icount shift=0: 1 instruction = 1 ns), an "
        "instruction count, NOT silicon time; local figures are wall time on this machine.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="kenning-bench-mcu-") as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        onnx_path, cfolder, dataset = prepare_model(folder, args.epochs)
        spec = IOSpec.load(onnx_path)
        x_val, _ = dataset.load_subset("validation")
        shape = tuple(spec.inputs[0].shape[1:])  # the model's layout: NCHW
        if x_val.shape[1:] != shape and x_val.ndim == 4:  # the dataset's: NHWC
            x_val = x_val.transpose(0, 3, 1, 2)
        x_val = np.ascontiguousarray(x_val, dtype=np.float32)
        assert x_val.shape[1:] == shape, (x_val.shape, shape)
        inputs = x_val[np.arange(args.samples) % len(x_val)]
        reference, onnxruntime_figures = local_onnxruntime(onnx_path, inputs)
        model_json = json.loads((cfolder / "model.json").read_text())
        figures: dict[str, Any] = {
            "model": "PyTorchDigitsCNN (digits 8x8, float32), "
            f"sha256 {hashlib.sha256(onnx_path.read_bytes()).hexdigest()[:16]}...",
            "samples": args.samples,
            "distinct_samples": min(args.samples, len(x_val)),
            "model_c": {
                k: model_json[k]
                for k in (
                    "emx_onnx_cgen_version",
                    "weights_bytes",
                    "activations_bytes",
                    "stack_bytes",
                )
            },
            "time_on_boards": "emulated (qemu -icount shift=0), instructions, not silicon",
        }
        for board in BOARDS:
            elf = build(board, cfolder, folder / "fw" / board)
            figures[board] = run_board(
                board, elf, cfolder, spec, inputs, reference, folder / "run" / board
            )
        tflite_path, how = to_tflite(onnx_path, folder)
        if tflite_path is not None:
            local = local_tflite(tflite_path, inputs, reference)
            local["converted_by"] = f"{how} from the same ONNX file"
            figures["local_tflite"] = local
        else:
            figures["local_tflite"] = (
                f"not available ({how}): onnxruntime is the local comparison instead"
            )
        figures["local_onnxruntime"] = onnxruntime_figures
        figures["local_machine"] = f"{os.uname().machine}, {os.cpu_count()} CPUs"
        for key, value in figures.items():
            print(f"{key}: {value}")
        if args.out_json:
            args.out_json.write_text(json.dumps(figures, indent=1) + "\n")
        print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())

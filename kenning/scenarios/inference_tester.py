r"""Compile a model, then benchmark it on a target over a protocol, or on this host.

Over a protocol (start ``kenning.scenarios.inference_server`` on the target
first)::

    python -m kenning.scenarios.inference_tester \\
        kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN \\
        kenning.compilers.onnx.ONNXCompiler \\
        kenning.runtimes.onnxruntime.ONNXRuntime \\
        kenning.datasets.digits.DigitsDataset \\
        build/results.json \\
        --protocol-cls kenning.runtimeprotocols.network.NetworkProtocol \\
        --model-path build/digits.pth --compiled-model-path build/digits.onnx \\
        --host 127.0.0.1 --port 12345

Without ``--protocol-cls`` the compiled model runs in-process in RUNTIME.
Per sample the results keep ``time_s`` (host-observed: over a protocol, from
the target's "inference started" OK to its "finished" OK) and
``target_time_s`` (measured on the target).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.benchmark import Outcome, run_benchmark
from kenning.core.errors import ConfigurationError
from kenning.core.iospec import IOSpec
from kenning.core.measurements import collector
from kenning.core.metrics import latency_summary
from kenning.core.model import ModelWrapper
from kenning.core.pipeline import compile_and_load, host_outcome
from kenning.core.results import (
    FrameworkInfo,
    ResultsRecorder,
    SampleResult,
    TimeSeries,
    load_results,
    new_results,
    summary_line,
)
from kenning.core.runtimeprotocol import RuntimeProtocol
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run

log = logging.getLogger("kenning.tester")

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class of the model"),
    ClassSlot("compilercls", "compiler", "ModelCompiler class that compiles it"),
    ClassSlot("runtimecls", "runtime", "Runtime class (runs the model when no protocol is given)"),
    ClassSlot("datasetcls", "dataset", "Dataset class to run on"),
    ClassSlot("protocolcls", "protocol", "RuntimeProtocol to reach the target", "--protocol-cls"),
)

_SERIES = ("timestamps", "cpu_percent", "ram_used_bytes", "ram_percent")


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, help="results JSON to write")
    parser.add_argument(
        "--save-model-path",
        type=Path,
        default=None,
        help="where an in-process runtime keeps the model (default: --compiled-model-path)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the samples of a partial OUTPUT and run only the missing ones",
    )


class TargetStatistics:
    """What the target reported through STATS, accumulated over the session."""

    def __init__(self) -> None:
        self.inference_times: list[float] = []
        self.series: dict[str, Any] = {name: [] for name in _SERIES}
        self.interval = 0.0

    def add(self, stats: dict[str, Any]) -> None:
        """Append one STATS reply (which holds what happened since the previous one)."""
        self.inference_times.extend(float(t) for t in stats.get("inference_time_s", []))
        system = stats.get("system") or {}
        self.interval = float(system.get("interval_s", self.interval))
        for name in _SERIES:
            self.series[name].extend(system.get(name, []))

    def time_series(self) -> TimeSeries | None:
        """The target's CPU/RAM series so far, or ``None`` before the first sample."""
        if not self.series["timestamps"]:
            return None
        return TimeSeries(interval_s=self.interval, gpu_available=False, **self.series)


class _Recorder(ResultsRecorder):
    """Also writes the target's time series with every flush."""

    target: TargetStatistics | None = None

    def flush(self) -> None:
        if self.target is not None:
            self.results.target_system = self.target.time_series()
        super().flush()


def remote_outcome(
    model: ModelWrapper, spec: IOSpec, client: ProtocolClient, target: TargetStatistics
) -> Callable[[np.ndarray], Outcome]:
    """One full exchange per batch: DATA, PROCESS, OUTPUT, STATS."""

    def infer(batch: np.ndarray) -> Outcome:
        client.upload_input(spec.inputs_to_bytes([np.asarray(model.preprocess_input(batch))]))
        host_s, target_s = client.request_processing()
        outputs = spec.outputs_from_bytes(bytes(client.download_output()))
        target.add(client.download_statistics())
        return Outcome(model.postprocess_outputs(outputs[0]), host_s, target_s)

    return infer


def _resumed_samples(output: Path) -> list[SampleResult]:
    """The samples of a results file being resumed (none when it is absent)."""
    if not output.is_file():
        log.warning("nothing to resume: %s does not exist; starting from the first sample", output)
        return []
    previous = load_results(output)
    if previous.scenario != "inference_tester":
        raise ConfigurationError(f"{output} was written by {previous.scenario}; cannot resume it")
    return list(previous.samples)


def main(argv: Sequence[str]) -> int:
    """Parse ``argv``, compile, run the benchmark and write the results file."""
    args, classes = build_parser(
        "python -m kenning.scenarios.inference_tester",
        __doc__ or "",
        SLOTS,
        _scenario_arguments,
        argv,
    )
    output = check_output_path(args.output)
    dataset = classes["datasetcls"].from_argparse(args)
    model = classes["modelwrappercls"].from_argparse(args, dataset=dataset)
    compiler = classes["compilercls"].from_argparse(args, dataset=dataset)
    protocol: RuntimeProtocol | None = None
    if "protocolcls" in classes:
        protocol = classes["protocolcls"].from_argparse(args)
    with collector.timed("model_load_s"):
        model.prepare_model()

    frameworks = [
        FrameworkInfo(role="model", name=n, version=v)
        for n, v in [model.get_framework_and_version()]
    ]
    target = TargetStatistics()
    client: ProtocolClient | None = None
    if protocol is None:
        if args.save_model_path is None:
            args.save_model_path = compiler.compiled_model_path
        runtime = classes["runtimecls"].from_argparse(args)
        spec = compile_and_load(model, compiler, runtime)
        infer = host_outcome(model, runtime)
        runtime_name, runtime_version = runtime.get_framework_and_version()
    else:
        with collector.timed("compile_s"):
            spec = compiler.compile_wrapper(model)
        client = ProtocolClient(protocol)
        client.connect()
        client.upload_io_spec(spec)
        with collector.timed("model_upload_s"):
            info = client.upload_model(compiler.compiled_model_path)
        runtime_name, runtime_version = str(info.get("runtime")), str(info.get("version"))
        infer = remote_outcome(model, spec, client, target)
    frameworks.append(
        FrameworkInfo(
            role="compiler",
            name=compiler.get_framework_and_version()[0],
            version=compiler.get_framework_and_version()[1],
        )
    )
    frameworks.append(FrameworkInfo(role="runtime", name=runtime_name, version=runtime_version))
    if protocol is not None:
        name, version = protocol.get_framework_and_version()
        frameworks.append(FrameworkInfo(role="protocol", name=name, version=version))

    results = new_results(
        "inference_tester",
        model,
        dataset,
        frameworks,
        compiler.compiled_model_path,
        compiler=compiler,
        runtime=runtime_name,
    )
    kept = _resumed_samples(output) if args.resume else []
    if kept:
        results.samples.extend(kept)
        results.provenance["resumed"] = {"kept_samples": len(kept)}
        log.info("resuming %s: %d samples kept", output, len(kept))
    recorder = _Recorder(output, results)
    recorder.target = target if protocol is not None else None
    try:
        final = run_benchmark(dataset, infer, recorder, skip=frozenset(s.index for s in kept))
    finally:
        if client is not None:
            client.close()
    final.measurements = collector.to_dict()
    if client is not None:
        final.measurements["target"] = dict(
            client.target_info, inference_time_s=target.inference_times
        )
        overhead = [
            s.time_s - s.target_time_s for s in final.samples if s.target_time_s is not None
        ]
        if overhead:
            final.measurements["protocol_overhead"] = latency_summary(overhead).model_dump()
    recorder.flush()
    print(summary_line(final, output))
    return 0


if __name__ == "__main__":
    run(main)

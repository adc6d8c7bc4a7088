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

Without ``--protocol-cls`` the compiled model runs in-process in RUNTIME. Both ways the
run warms up, loops over the validation data in a seeded order until it is long enough
(``--warmup``, ``--min-samples``, ``--min-duration``, ``--sample-seed``) and stores per sample
the named figures of :mod:`kenning.core.figures` (``inference`` is ``Runtime.run()`` alone,
timed where it runs), their percentiles with confidence intervals and a VALID/INVALID verdict.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kenning.core.benchmark import run_benchmark
from kenning.core.calibration import load_record, measured_ranges, range_mismatch
from kenning.core.measure import MeasureSettings, add_measure_arguments
from kenning.core.measurements import collector
from kenning.core.newresults import new_results
from kenning.core.pipeline import LocalSession
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import (
    FrameworkInfo,
    Results,
    RunPart,
    SampleResult,
    load_results,
)
from kenning.core.runidentity import check_same_run, dataset_parameters
from kenning.core.summary import summary_line
from kenning.runtimeprotocols.session import STATS_EVERY_S, RemoteSession, file_sha256
from kenning.scenarios.common import ClassSlot, build_parser, check_output_path, run
from kenning.utils.errors import ConfigurationError

log = logging.getLogger("kenning.tester")

SLOTS = (
    ClassSlot("modelwrappercls", "modelwrapper", "ModelWrapper class of the model"),
    ClassSlot("compilercls", "compiler", "ModelCompiler class that compiles it"),
    ClassSlot("runtimecls", "runtime", "Runtime class (runs the model when no protocol is given)"),
    ClassSlot("datasetcls", "dataset", "Dataset class to run on"),
    ClassSlot("protocolcls", "protocol", "RuntimeProtocol to reach the target", "--protocol-cls"),
)


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
    parser.add_argument(
        "--stats-every",
        type=float,
        default=STATS_EVERY_S,
        metavar="SECONDS",
        help="seconds between the target's statistics requests while samples run (0: after "
        "every sample; nothing is lost between them) (default: %(default)s)",
    )
    add_measure_arguments(parser)


class _Recorder(ResultsRecorder):
    """Also keeps the target's load series current (a protocol run)."""

    session: RemoteSession | None = None

    def refresh(self) -> None:
        if self.session is not None:
            self.results.target_system = self.session.target.time_series()
        super().refresh()


def resumed_parts(output: Path, fresh: Results, batch_size: int) -> list[RunPart]:
    """The parts of a run being resumed: ``output``'s earlier parts and its own last one.

    Each keeps its warm-up and load series, so the verdict judges every part. Call after
    :func:`resumed_samples`, which checks that ``output`` belongs to this run.
    """
    previous = load_results(output)
    kept = len(resumed_samples(output, fresh, batch_size))
    before = sum(part.samples for part in previous.parts)
    last = RunPart(
        samples=max(0, kept - before),
        created=previous.created,
        status=previous.status,
        error=previous.error,
        warmup=previous.warmup,
        system=previous.system,
        target_system=previous.target_system,
    )
    return [*previous.parts, last]


def resumed_samples(output: Path, fresh: Results, batch_size: int) -> list[SampleResult]:
    """The samples of ``output`` a resumed run keeps: the measured sequence's unbroken start.

    Raises
    ------
    ConfigurationError
        If ``output`` is the results of another scenario or another run (any setting of
        :func:`kenning.core.runidentity.run_identity` differs).
    """
    if not output.is_file():
        log.warning("nothing to resume: %s does not exist; starting from the first sample", output)
        return []
    previous = load_results(output)
    if previous.scenario != "inference_tester":
        raise ConfigurationError(f"{output} was written by {previous.scenario}; cannot resume it")
    check_same_run(output, previous, fresh)
    kept: list[SampleResult] = []
    for sample in sorted(previous.samples, key=lambda s: s.seq):
        if sample.seq != len(kept):
            break
        kept.append(sample)
    return kept[: len(kept) - len(kept) % batch_size]


def _calibration_check(model: Any, dataset: Any, artifact: Path) -> dict[str, Any] | None:
    """The artifact's calibration record with the ranges this run feeds; warn on a mismatch."""
    record = load_record(artifact)
    if record is None:
        return None
    batches = dataset.iter_batches("validation", 1)
    measured = measured_ranges(record, model.preprocess_input, batches)
    problems = range_mismatch(record, measured)
    for problem in problems:
        log.warning("%s", problem)
    return {**record, "measured": measured, "mismatch": problems}


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
    settings = MeasureSettings.from_argparse(args)
    dataset = classes["datasetcls"].from_argparse(args)
    model = classes["modelwrappercls"].from_argparse(args, dataset=dataset)
    compiler = classes["compilercls"].from_argparse(args, dataset=dataset)
    protocol = classes["protocolcls"].from_argparse(args) if "protocolcls" in classes else None
    if protocol is not None:
        protocol.secret  # noqa: B018 - a bad --secret-file fails before any loading or compiling
    with collector.timed("model_load_s"):
        model.prepare_model()
        model.check_inputs()
        model.check_outputs()
    calibration = _calibration_check(model, dataset, compiler.compiled_model_path)
    session: Any
    if protocol is not None:
        with collector.timed("compile_s"):
            spec = compiler.compile_wrapper(model)
        session = RemoteSession(
            protocol, model, spec, compiler.compiled_model_path, stats_every=args.stats_every
        )
    else:
        if args.save_model_path is None:
            args.save_model_path = compiler.compiled_model_path
        session = LocalSession(model, compiler, classes["runtimecls"].from_argparse(args))
    with session:
        results = _new_results(model, dataset, compiler, session, protocol)
        results.measure = settings
        results.dataset.parameters = dataset_parameters(classes["datasetcls"], args)
        kept = resumed_samples(output, results, dataset.batch_size) if args.resume else []
        if kept and load_results(output).status == "complete":
            print(f"{output} is complete ({len(kept)} samples): nothing to resume, left as it was")
            return 0
        if kept:
            results.samples.extend(kept)
            results.parts = resumed_parts(output, results, dataset.batch_size)
            results.provenance["resumed"] = {"kept_samples": len(kept)}
            log.info("resuming %s: %d samples kept", output, len(kept))
        if calibration is not None:
            results.provenance["calibration"] = calibration
        recorder = _Recorder(output, results)
        if session.spec is not None:  # the artifact's own names for what it outputs
            recorder.output_names = [s.name for s in session.spec.outputs]
        recorder.session = session if protocol is not None else None
        final = run_benchmark(
            dataset,
            session.infer,
            recorder,
            settings,
            phases=session if protocol is not None else None,
        )
        final.measurements = {**collector.to_dict(), **session.measurements()}
        recorder.finish("complete")
    print(summary_line(final, output))
    return 0


def _new_results(model: Any, dataset: Any, compiler: Any, session: Any, protocol: Any) -> Results:
    frameworks = [
        FrameworkInfo(role="model", name=n, version=v)
        for n, v in [model.get_framework_and_version()]
    ]
    name, version = compiler.get_framework_and_version()
    frameworks.append(FrameworkInfo(role="compiler", name=name, version=version))
    runtime_name, runtime_version = session.runtime
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
    results.model.sha256 = file_sha256(compiler.compiled_model_path)
    return results


if __name__ == "__main__":
    run(main)

"""How often reproduce's latency verdict is wrong: false positives and detection, on known data.

Each trial measures two sets of real runs (``run_benchmark`` with a busy-waiting runtime of a
known duration, the load sampler, the verdict) and asks ``invoke reproduce``'s latency check
(:func:`kenning.toolchain.reproduce.verdict.latency_check`) whether the second set is slower
or faster than the first. Four cases, ``--trials`` trials each (20 by default), ``--runs``
runs a side:

* identical: both sides run the same duration. Real builds differ from run to run (memory
  placement, the machine's state); each run here gets its own offset, drawn with a standard
  deviation of ``--run-sd`` (1 %), as a real build's runs would;
* 2 % and 10 % slowdown: the second side's duration is 1.02 or 1.10 times the first's;
* drift: identical builds, but within each run the machine's speed wanders slowly (a random
  walk of ``--drift`` total spread), differently in each run.

For each case it prints how often the between-run check (3+3 runs) claims "slower"/"faster",
beside what the within-run bootstrap of two single runs (the method before) claims, and how
often reproduce's overall latency check passes. Every run must be VALID (a quiet machine):
a run that is not is counted and the trial's claim is refused, as reproduce refuses it.

    python bench/verdicts.py            # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kenning.core.abtest import compare_medians
from kenning.core.benchmark import run_benchmark
from kenning.core.iospec import IOSpec, TensorSpec
from kenning.core.measure import MeasureSettings
from kenning.core.pipeline import host_outcome
from kenning.core.recorder import ResultsRecorder
from kenning.core.resultparts import DatasetInfo, HostInfo, ModelInfo
from kenning.core.results import Results
from kenning.datasets.digits import DigitsDataset
from kenning.runtimes.null import NullRuntime
from kenning.toolchain.reproduce.verdict import latency_check

SPEC = IOSpec(
    inputs=[TensorSpec(name="x", shape=[-1, 16], dtype="float32")],
    outputs=[TensorSpec(name="y", shape=[-1, 10], dtype="float32")],
)
CASES = {"identical": 1.0, "2% slower": 1.02, "10% slower": 1.10, "drift": 1.0}


class Flat:
    def preprocess_input(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros((len(batch), 16), np.float32)

    def postprocess_outputs(self, outputs: np.ndarray) -> np.ndarray:
        return outputs


class KnownRuntime(NullRuntime):
    """Busy-waits a duration given per call by ``durations`` (seconds)."""

    durations: np.ndarray = np.zeros(1)
    calls = 0

    def run(self) -> None:
        self.inference_time = float(self.durations[min(self.calls, len(self.durations) - 1)])
        self.calls += 1
        super().run()


def one_run(folder: Path, durations: np.ndarray, settings: MeasureSettings) -> Results:
    model = folder / "model.bin"
    model.write_bytes(b"m")
    SPEC.save(model)
    runtime = KnownRuntime(folder / "saved.bin")
    runtime.load_model(model)
    runtime.durations = durations
    dataset = DigitsDataset(None)
    results = Results(
        scenario="bench-verdicts",
        command=sys.argv,
        created=ResultsRecorder.now(),
        host=HostInfo.current(),
        frameworks=[],
        model=ModelInfo(wrapper="known", path="-"),
        dataset=DatasetInfo(
            cls="digits",
            subset="validation",
            num_samples=450,
            class_names=dataset.get_class_names(),
            batch_size=1,
        ),
    )
    recorder = ResultsRecorder(folder / "run.json", results)
    return run_benchmark(dataset, host_outcome(Flat(), runtime), recorder, settings)  # type: ignore[arg-type]


def durations(
    rng: np.random.Generator, base: float, case: str, args: argparse.Namespace, calls: int
) -> np.ndarray:
    level = base * (1.0 + rng.normal(0.0, args.run_sd))
    if case != "drift":
        return np.full(calls, level)
    walk = np.cumsum(rng.normal(0.0, 1.0, calls))
    walk = (walk - walk.mean()) / (np.ptp(walk) or 1.0) * args.drift
    return level * (1.0 + walk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="runs a side")
    parser.add_argument("--duration-ms", type=float, default=1.0, help="busy time per call")
    parser.add_argument("--run-sd", type=float, default=0.01, help="run-to-run offset (sd)")
    parser.add_argument("--drift", type=float, default=0.05, help="within-run wander (range)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = MeasureSettings(min_samples=700, min_duration_s=1.0, percentiles=[50.0, 90.0, 99.0])
    calls = 5000
    rng = np.random.default_rng(args.seed)
    base = args.duration_ms / 1e3
    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for case, factor in CASES.items():
            claims = bootstrap_claims = passed = refused = not_valid = 0
            for trial in range(args.trials):
                sides = []
                for side, scale in (("a", 1.0), ("b", factor)):
                    runs = []
                    for number in range(args.runs):
                        folder = Path(tmp) / f"{case}-{trial}-{side}-{number}"
                        folder.mkdir(parents=True)
                        run = one_run(
                            folder, durations(rng, base * scale, case, args, calls), settings
                        )
                        not_valid += run.verdict is None or run.verdict.state != "VALID"
                        runs.append(run)
                    sides.append(runs)
                check = latency_check(sides[0], sides[1])[0]
                said = check.verdict
                claims += said.startswith(("slower", "faster"))
                refused += check.unverified
                passed += check.ok
                bootstrap_claims += compare_medians(
                    sides[0][0].figure_values(), sides[1][0].figure_values()
                ).significant
                print(f"{case:>11} trial {trial + 1:2}: {check.mark}: {said}", file=sys.stderr)
            rows.append(
                {
                    "case": case,
                    "trials": args.trials,
                    "between_runs_claims_difference": claims / args.trials,
                    "within_run_bootstrap_claims_difference": bootstrap_claims / args.trials,
                    "reproduce_latency_check_passes": passed / args.trials,
                    "not_judged": refused / args.trials,
                    "runs_not_valid": not_valid,
                }
            )
    print(
        f"\n{'case':<12} {'between runs':>13} {'within-run bootstrap':>21} "
        f"{'check passes':>13} {'not judged':>11} {'runs not VALID':>15}"
    )
    for r in rows:
        print(
            f"{r['case']:<12} {r['between_runs_claims_difference']:>13.0%} "
            f"{r['within_run_bootstrap_claims_difference']:>21.0%} "
            f"{r['reproduce_latency_check_passes']:>13.0%} {r['not_judged']:>11.0%} "
            f"{r['runs_not_valid']:>15}"
        )
    print(
        json.dumps(
            {
                "cases": rows,
                "runs_per_side": args.runs,
                "run_sd": args.run_sd,
                "drift": args.drift,
                "duration_ms": args.duration_ms,
                "wall_s": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

r"""Run a scenario file: train, reference runs, every deployment on every board, a report.

Example::

    python -m kenning.scenarios.run scenarios/digits.yaml
    python -m kenning.scenarios.run my-model.yaml --board local --deployment ort-int8

The file says the model (a ModelWrapper, or just a ``.onnx``/``.tflite``/``.keras`` file),
the data (a Dataset class, a folder, or ``synthetic``), the deployments (chains of
compilers and a runtime), the boards and the measurement; see docs/scenarios.md. Every
chain is checked before any work. Steps run in the pinned images with ``--executor
docker`` (``auto``: when a daemon answers).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kenning.scenarios.common import add_verbosity_argument, configure_logging
from kenning.utils.argparser import ArgumentParser
from kenning.utils.cli import run


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m kenning.scenarios.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", type=Path, help="the scenario file (YAML or JSON)")
    parser.add_argument(
        "--build", type=Path, default=None, help="output folder (default: build/<scenario name>)"
    )
    parser.add_argument(
        "--executor",
        default="local",
        choices=["auto", "local", "docker"],
        help="where training and compiling run (default: %(default)s)",
    )
    parser.add_argument(
        "--board",
        action="append",
        default=[],
        help="board name or tag (repeatable; default: the file's boards:)",
    )
    parser.add_argument(
        "--deployment", action="append", default=[], help="only this deployment (repeatable)"
    )
    parser.add_argument(
        "--no-train", action="store_true", help="use the models already trained in BUILD/models"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="change the file's value at KEY.PATH without editing it (repeatable), e.g. "
        "--set dataset.folder=my/data; a folder or file is relative to where you run this",
    )
    parser.add_argument(
        "--check", action="store_true", help="check the file and print the steps; run nothing"
    )
    parser.add_argument(
        "--trust-host-key",
        action="store_true",
        help="accept (and record) unknown SSH host keys of the boards",
    )
    add_verbosity_argument(parser)
    return parser


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run the scenario file."""
    args = _parser().parse_args(argv)
    configure_logging(args.verbosity)
    from kenning.executors import select_executor
    from kenning.toolchain.run.benchtask import load_job
    from kenning.toolchain.run.boardchoice import resolve_boards

    job = load_job(args.scenario, overrides=args.set)
    build = args.build or Path("build") / job.scenario.name
    if args.check:
        for name in args.deployment or job.scenario.deployments:
            steps = job.plan(name, build, "amd64").steps
            chain = " -> ".join(f"{s.name} [{s.image or 'here'}]" for s in steps) or "as it is"
            print(f"{name}: {chain}; runtime {job.scenario.deployments[name].runtime.runtime}")
        print(f"== {args.scenario}: {len(job.scenario.deployments)} deployments can work")
        return 0
    from kenning.toolchain.run.runner import run_scenario

    boards = resolve_boards(args.board, trust_host_key=args.trust_host_key) if args.board else None
    with select_executor(args.executor) as executor:
        report = run_scenario(
            executor,
            job,
            build,
            boards,
            train=not args.no_train,
            deployments=args.deployment,
            trust_host_key=args.trust_host_key,
        )
    print(f"== report: {report.resolve()}")
    return 0


if __name__ == "__main__":
    run(main)

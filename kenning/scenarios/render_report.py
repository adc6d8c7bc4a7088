r"""Render an RST, HTML or Markdown report, with plots, from one or more results files.

Example::

    python -m kenning.scenarios.render_report \\
        build/google-coral-devboard-tflite-tensorflow.json \\
        "Pet Dataset classification using TFLite-compiled TensorFlow model" \\
        docs/source/generated/google-coral-devboard-tpu-tflite-tensorflow-classification.rst \\
        --img-dir docs/source/generated/img/ \\
        --root-dir docs/source/ \\
        --report-types performance classification

Several results files before the report name give a comparison report (a
table, latency against accuracy with the Pareto front, per-metric bars)
followed by the requested sections for each run::

    python -m kenning.scenarios.render_report a.json b.json c.json "Digits" out/index.html

An HTML report is a self-contained folder: the page and its ``img`` folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kenning.core.recorder import outputs_path
from kenning.reports.render import FORMATS, REPORT_TYPES, render_report
from kenning.scenarios.common import check_output_path, run
from kenning.utils.argparser import ArgumentParser
from kenning.utils.errors import ConfigurationError


def parser() -> argparse.ArgumentParser:
    """The command line of the scenario."""
    p = ArgumentParser(
        prog="python -m kenning.scenarios.render_report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", type=Path, nargs="+", help="results JSON files (several: compare)")
    p.add_argument("report_name", help="title of the report")
    p.add_argument("output", type=Path, help="report file to write (.rst, .html or .md)")
    p.add_argument(
        "--img-dir", type=Path, default=None, help="folder for the plots (default: OUTPUT's img/)"
    )
    p.add_argument(
        "--root-dir",
        type=Path,
        default=None,
        help="Sphinx source folder: RST image paths are written relative to it",
    )
    p.add_argument(
        "--report-types",
        nargs="+",
        choices=REPORT_TYPES,
        default=["performance", "classification"],
        help="sections per run (default: %(default)s); comparison is added for several files",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from OUTPUT's suffix, else rst)",
    )
    return p


def _refuse_inputs_as_output(output: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output path that is one of the results files or the outputs beside one.

    Raises
    ------
    ConfigurationError
        Naming the file the report would replace.
    """
    taken: dict[Path, str] = {}
    for results in inputs:
        companion = outputs_path(results)
        taken[companion.resolve()] = f"the outputs file {companion} of the results {results}"
        taken[results.resolve()] = f"the results file {results}"
    if output.resolve() in taken:
        raise ConfigurationError(
            f"the report {output} would replace {taken[output.resolve()]}; "
            "choose another output path (e.g. report.html)"
        )


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` and render the report."""
    args = parser().parse_args(argv)
    _refuse_inputs_as_output(args.output, args.results)
    output = check_output_path(args.output)
    written = render_report(
        args.results,
        args.report_name,
        output,
        img_dir=args.img_dir,
        root_dir=args.root_dir,
        report_types=args.report_types,
        fmt=args.format,
    )
    print(f"report written to {written}")
    return 0


if __name__ == "__main__":
    run(main)

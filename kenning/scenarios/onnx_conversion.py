r"""Export models to ONNX and import them back, for several frameworks; write a support table.

Example::

    python -m kenning.scenarios.onnx_conversion \\
        build/models-directory \\
        build/onnx-support.rst \\
        --converters-list \\
            kenning.onnxconverters.pytorch.PyTorchONNXConversion \\
            kenning.onnxconverters.tensorflow.TensorFlowONNXConversion \\
            kenning.onnxconverters.mxnet.MXNetONNXConversion

The ONNX files go to ``build/models-directory/<framework>/<model>.onnx``; the
table (model x framework x export/import) to the RST file. ``--models`` picks
models by name to re-run single rows. MXNet needs its own venv first:
``python -m kenning.onnxconverters.mxnet_env``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kenning.core.newresults import command_line
from kenning.core.onnxconversion import ONNXConversion
from kenning.core.onnxresults import ModelReport
from kenning.core.registry import load_class, short_names
from kenning.onnxconverters import support_table
from kenning.scenarios.common import check_output_path, run
from kenning.utils.argparser import ArgumentParser
from kenning.utils.errors import ConfigurationError
from kenning.utils.progress import progress

log = logging.getLogger("kenning.onnx_conversion")

PROG = "python -m kenning.scenarios.onnx_conversion"
#: third-party loggers that report every graph pass or deprecation
_CHATTY = ("onnx_ir", "onnxscript", "tf2onnx", "tensorflow", "torch.onnx", "torch._dynamo", "absl")


def _parser(classes: Sequence[type[Any]]) -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models_directory", type=Path, help="folder for the ONNX files")
    parser.add_argument("output", type=Path, help="RST file for the support table")
    names = ", ".join(short_names("onnxconverter"))
    parser.add_argument(
        "--converters-list",
        nargs="+",
        default=short_names("onnxconverter"),
        help=f"ONNXConversion classes: short names ({names}) or dotted paths "
        "(default: all short names)",
    )
    parser.add_argument("--models", nargs="+", default=None, help="only these model names")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 unless every conversion is supported"
    )
    parser.add_argument(
        "--verbosity",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log level (default: %(default)s)",
    )
    for cls in classes:
        cls.form_argparse(parser)
    return parser


def main(argv: Sequence[str]) -> int:
    """Parse ``argv``, run every converter over its models and write the table."""
    first = ArgumentParser(add_help=False)
    first.add_argument("--converters-list", nargs="+", default=short_names("onnxconverter"))
    known, _ = first.parse_known_args(argv)
    classes = [load_class(name, "onnxconverter") for name in known.converters_list]
    args = _parser(classes).parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.verbosity),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.verbosity != "DEBUG":
        # frameworks deprecating their own internals is not this run's news
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        for name in _CHATTY:
            logging.getLogger(name).setLevel(logging.ERROR)
    output = check_output_path(args.output)
    converters: list[ONNXConversion] = [cls.from_argparse(args) for cls in classes]
    only = set(args.models) if args.models else None
    known_models = {m.name for c in converters for m in c.models()}
    if only is not None and not only <= known_models:
        raise ConfigurationError(
            f"no model named {', '.join(sorted(only - known_models))}; "
            f"models: {', '.join(sorted(known_models))}"
        )
    total = sum(1 for c in converters for m in c.models() if only is None or m.name in only)
    reports: list[ModelReport] = []
    versions: dict[str, str] = {}
    with progress("ONNX round trips", total) as advance:
        for converter in converters:
            folder = args.models_directory / converter.framework.lower()
            reports += converter.check_conversions(folder, only, advance)
            tolerance = f"tolerance rtol {converter.rtol:g}, atol {converter.atol:g}"
            versions[converter.framework] = f"{converter.version()}; {tolerance}"
    support_table.write(
        output, support_table.render(reports, versions, shlex.join(command_line()))
    )
    supported = sum(r.export.ok + r.imported.ok for r in reports)
    for report in reports:
        if not (report.export.ok and report.imported.ok):
            print(
                f"{report.framework} {report.model}: export {support_table.cell(report.export)}"
                f"; import {support_table.cell(report.imported)}"
            )
    print(f"{supported} of {2 * len(reports)} conversions supported -> {output}")
    return 1 if args.strict and supported < 2 * len(reports) else 0


if __name__ == "__main__":
    run(main)

"""ONNX conversions per framework, each with the list of models to try.

See :class:`kenning.core.onnxconversion.ONNXConversion`. The ONNX-to-framework
converters (onnx2torch, onnx2tf) pin exact versions of torch, TensorFlow and
numpy in their metadata that conflict with kenning's, so they are installed
without dependencies::

    pip install --no-deps -r kenning/onnxconverters/requirements-converters.txt

MXNet runs in its own venv, see :mod:`kenning.onnxconverters.mxnet_env`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kenning.core.onnxresults import ConversionError

REQUIREMENTS = Path(__file__).with_name("requirements-converters.txt")


def require_converter(module: str) -> None:
    """Fail with the install command if the converter ``module`` is missing.

    Raises
    ------
    ConversionError
        If ``module`` cannot be found.
    """
    if importlib.util.find_spec(module) is None:
        raise ConversionError(
            f"'{module}' is not installed; install the converters with: "
            f"pip install --no-deps -r {REQUIREMENTS}"
        )

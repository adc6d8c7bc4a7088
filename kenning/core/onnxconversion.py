"""The ONNXConversion interface: export/import round trips for one framework.

An implementation names its models and how to export, import and run them
(see :class:`kenning.onnxconverters.pytorch.PyTorchONNXConversion`). The
runner :meth:`ONNXConversion.check_conversions` then, for every model:

1. builds it and runs it on a seeded random input (the reference output),
2. exports it to ONNX, checks the file with ``onnx.checker`` and runs it in
   ONNX Runtime: the *export* status,
3. imports the ONNX file back into the framework and runs the result: the
   *import* status.

Outputs are compared with :func:`compare`. Every failure is caught and kept
as a status, so one model never stops the others::

    KenningError
    └── ConversionError               a conversion step failed (reason in the message)
        ├── UnsupportedOperatorError  an operator the converter cannot handle
        ├── OutputMismatchError       outputs differ beyond the tolerance
        └── EnvironmentUnavailableError  the framework's environment is missing
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import ArgumentsHandler
from kenning.core.onnxresults import (
    ConversionError,
    DirectionResult,
    EnvironmentUnavailableError,
    ModelEntry,
    ModelReport,
    OutputMismatchError,
    Status,
    UnsupportedOperatorError,
)
from kenning.utils.imports import require

log = logging.getLogger("kenning.onnxconversion")


def compare(output: np.ndarray, reference: np.ndarray, rtol: float, atol: float) -> float:
    """Check ``output`` against ``reference``; return the largest absolute difference.

    The allowed difference is ``atol + rtol * max(|reference|)``.

    Raises
    ------
    OutputMismatchError
        If shapes differ, the reference is all (near) zero (nothing to compare),
        or the difference exceeds the tolerance.
    """
    output = np.asarray(output, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if output.shape != reference.shape:
        raise OutputMismatchError(f"output shape {output.shape} != reference {reference.shape}")
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    if scale < 1e-6:
        raise OutputMismatchError(f"reference output is all near zero (max {scale:.2e})")
    error = float(np.abs(output - reference).max())
    if not np.isfinite(error) or error > atol + rtol * scale:
        raise OutputMismatchError(
            f"max abs difference {error:.3e} > tolerance {atol + rtol * scale:.3e} "
            f"(output scale {scale:.3e})"
        )
    return error


def run_onnxruntime(path: Path, inputs: np.ndarray) -> np.ndarray:
    """Check ``path`` with ``onnx.checker`` and run it once in ONNX Runtime.

    Graph inputs that have an initializer (older exporters list weights as
    inputs) are left to their initializers.

    Raises
    ------
    ConversionError
        If the checker rejects the model or ONNX Runtime cannot run it.
    """
    onnx = require("onnx", "onnxruntime")
    ort = require("onnxruntime", "onnxruntime")
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        message = _first_line(exc)
        if "No Op registered for" in message:
            operator = message.split("No Op registered for ", 1)[1].split()[0]
            raise UnsupportedOperatorError(operator, "left in the graph by the exporter") from exc
        raise ConversionError(f"onnx.checker rejected {path.name}: {message}") from exc
    model = onnx.load(str(path), load_external_data=False)
    weights = {init.name for init in model.graph.initializer}
    data_inputs = [i.name for i in model.graph.input if i.name not in weights]
    if len(data_inputs) != 1:
        raise ConversionError(f"{path.name} has {len(data_inputs)} data inputs, expected 1")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return np.asarray(session.run(None, {data_inputs[0]: inputs})[0])
    except Exception as exc:
        message = _first_line(exc)
        if "Could not find an implementation for" in message:
            operator = message.split("for ", 1)[1].split("(", 1)[0].strip()
            raise UnsupportedOperatorError(operator, "by ONNX Runtime") from exc
        raise ConversionError(f"ONNX Runtime cannot run {path.name}: {message}") from exc


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text or type(exc).__name__)[:400]


def package_version(*names: str) -> str:
    """Version of the first installed distribution among ``names`` (``?`` if none)."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


class ONNXConversion(ArgumentsHandler):
    """Base class of ONNX round-trip testers for one framework.

    Subclasses set :attr:`framework` and implement :meth:`models`,
    :meth:`onnx_export`, :meth:`onnx_import` and :meth:`run`; the others have
    defaults. See :mod:`kenning.onnxconverters.pytorch` for a reference.
    """

    #: the framework's name as shown in the support table
    framework: ClassVar[str] = ""
    #: allowed output difference: ``atol + rtol * max(|reference|)``
    rtol: ClassVar[float] = 1e-3
    atol: ClassVar[float] = 1e-5

    def models(self) -> list[ModelEntry]:
        """The models to export and import back (cheap: nothing is built yet)."""
        raise NotImplementedError

    def onnx_export(self, model: Any, path: Path, example: np.ndarray) -> None:
        """Export ``model`` to ONNX at ``path``; ``example`` is a valid input.

        Raises
        ------
        ConversionError
            Or any exception of the framework: the runner records it.
        """
        raise NotImplementedError

    def onnx_import(self, path: Path) -> Any:
        """Import the ONNX model at ``path`` into the framework."""
        raise NotImplementedError

    def run(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        """Run a source model on ``inputs`` (framework layout) and return its output."""
        raise NotImplementedError

    def run_imported(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        """Run a model returned by :meth:`onnx_import`; defaults to :meth:`run`."""
        return self.run(model, inputs)

    def onnx_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """``inputs`` in the layout the exported ONNX model takes (default: same)."""
        return inputs

    def example_input(self, entry: ModelEntry) -> np.ndarray:
        """A seeded random input in [0, 1) of the entry's shape."""
        return np.random.default_rng(0).uniform(0, 1, entry.input_shape).astype(np.float32)

    def version(self) -> str:
        """Framework and converter versions for the support table."""
        return ""

    def release(self, model: Any) -> None:
        """Free what a built or imported model holds (e.g. a Keras session)."""

    def check_conversions(
        self,
        directory: Path,
        only: set[str] | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> list[ModelReport]:
        """Round-trip every model, writing ONNX files under ``directory``.

        Parameters
        ----------
        directory : Path
            Where ``<model>.onnx`` files go (created if needed).
        only : set of str, optional
            Model names to run; all when ``None``.
        advance : callable, optional
            Called with 1 after each model (a progress bar).

        Returns
        -------
        list of ModelReport
            One report per model; failures are statuses, never exceptions.
        """
        directory.mkdir(parents=True, exist_ok=True)
        reports = []
        for entry in self.models():
            if only is not None and entry.name not in only:
                continue
            log.info("%s: %s", self.framework, entry.name)
            reports.append(self._check_model(entry, directory / f"{entry.name}.onnx"))
            if advance is not None:
                advance(1)
        return reports

    def _check_model(self, entry: ModelEntry, path: Path) -> ModelReport:
        path.unlink(missing_ok=True)
        report = ModelReport(
            self.framework,
            entry.name,
            None,
            DirectionResult(Status.NOT_TESTED),
            DirectionResult(Status.NOT_TESTED),
        )
        example = self.example_input(entry)
        started, step, model = time.perf_counter(), "build", None
        try:
            model = entry.build()
            step = "run"
            reference = self.run(model, example)
            step = "export"
            self.onnx_export(model, path, example)
            step = "ONNX Runtime"
            output = run_onnxruntime(path, self.onnx_inputs(example))
            step = "export comparison"
            report.export = _ok(compare(output, reference, self.rtol, self.atol), started)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            report.export = _from_exception(exc, step, started)
        finally:
            if model is not None:
                self.release(model)
        if not path.exists():
            report.imported = _skipped(report.export, "export produced no ONNX file")
            return report
        report.onnx_path = path
        started, step, imported = time.perf_counter(), "import", None
        try:
            imported = self.onnx_import(path)
            step = "run imported"
            output = self.run_imported(imported, example)
            step = "import comparison"
            report.imported = _ok(compare(output, reference, self.rtol, self.atol), started)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            report.imported = _from_exception(exc, step, started)
        finally:
            if imported is not None:
                self.release(imported)
        return report


def _ok(error: float, started: float) -> DirectionResult:
    return DirectionResult(Status.SUPPORTED, "", error, time.perf_counter() - started)


def _skipped(export: DirectionResult, reason: str) -> DirectionResult:
    if export.status is Status.UNAVAILABLE:
        return DirectionResult(Status.UNAVAILABLE, export.detail)
    return DirectionResult(Status.NOT_TESTED, reason)


def _from_exception(exc: BaseException, step: str, started: float) -> DirectionResult:
    seconds = time.perf_counter() - started
    if isinstance(exc, EnvironmentUnavailableError):
        return DirectionResult(Status.UNAVAILABLE, str(exc), None, seconds)
    if isinstance(exc, UnsupportedOperatorError):
        detail = exc.operator + (f" ({exc.detail})" if exc.detail else "")
        return DirectionResult(Status.UNSUPPORTED, detail, None, seconds)
    detail = f"{step}: {_first_line(exc)}"
    log.warning("%s", detail, exc_info=log.isEnabledFor(logging.DEBUG))
    return DirectionResult(Status.FAILED, detail, None, seconds)

"""What an ONNX round trip found: per model and direction a status, an error, a time."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kenning.utils.errors import KenningError


class ConversionError(KenningError):
    """A step of an ONNX round trip failed."""


class UnsupportedOperatorError(ConversionError):
    """The converter has no implementation for ``operator``."""

    def __init__(self, operator: str, detail: str = "") -> None:
        self.operator = operator
        self.detail = detail
        super().__init__(f"unsupported operator {operator}" + (f" ({detail})" if detail else ""))


class OutputMismatchError(ConversionError):
    """Outputs of the converted model differ from the source model's."""


class EnvironmentUnavailableError(ConversionError):
    """The framework's own environment (venv, image) is not there."""


class Status(str, enum.Enum):
    """Outcome of one direction (export or import) for one model."""

    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"
    FAILED = "failed"
    UNAVAILABLE = "environment unavailable"
    NOT_TESTED = "not tested"


@dataclass
class DirectionResult:
    """Status of one direction, with the reason and the measured output error."""

    status: Status
    detail: str = ""
    max_error: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the direction is supported."""
        return self.status is Status.SUPPORTED


@dataclass
class ModelReport:
    """Export and import results of one model of one framework."""

    framework: str
    model: str
    onnx_path: Path | None
    export: DirectionResult
    imported: DirectionResult


@dataclass(frozen=True)
class ModelEntry:
    """One model to try: its name, a function building it offline, its input shape."""

    name: str
    build: Callable[[], Any]
    input_shape: tuple[int, ...]
    description: str = ""

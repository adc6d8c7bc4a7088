"""The ONNXConversion interface: export/import round trips for one framework.

Implementations live in :mod:`kenning.onnxconverters`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kenning.core.args import ArgumentsHandler


@dataclass
class ModelEntry:
    """One model to try: a name and a function that builds it offline."""

    name: str
    build: Callable[[], Any]


class ONNXConversion(ArgumentsHandler):
    """Base class of ONNX round-trip testers for one framework."""

    #: the framework's name as shown in the support table
    framework: ClassVar[str] = ""

    def models(self) -> list[ModelEntry]:
        """The models to export and import back."""
        raise NotImplementedError

    def onnx_export(self, model: Any, path: Path) -> None:
        """Export ``model`` to ONNX at ``path``."""
        raise NotImplementedError

    def onnx_import(self, path: Path) -> Any:
        """Import the ONNX model at ``path`` into the framework."""
        raise NotImplementedError

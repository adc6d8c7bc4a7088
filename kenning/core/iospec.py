"""Input/output specification of a model, and tensor (de)serialisation.

A specification travels beside every model artifact (``<model>.iospec.json``)
so a runtime or the protocol can turn tensors into bytes and back with nothing
but numpy installed. Quantised tensors carry a scale and zero point:
``real = (quantised - zero_point) * scale``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from kenning.utils.errors import ConfigurationError, ModelError

SUFFIX = ".iospec.json"


def as_tensors(inputs: object) -> list[np.ndarray]:
    """A batch as one array per model input: a model with several inputs takes a list."""
    if isinstance(inputs, list | tuple):
        return [np.asarray(item) for item in inputs]
    return [np.asarray(inputs)]


def to_model_layout(inputs: object, spec: IOSpec) -> object:
    """A dataset batch as a model file takes it: NHWC images become NCHW when that fits.

    Several inputs (a list) are passed on as they are; so is a batch that already fits.
    """
    if isinstance(inputs, list | tuple):
        return [np.asarray(a) for a in inputs]
    array = np.asarray(inputs)
    wanted = tuple(spec.inputs[0].shape[1:])
    if array.ndim == 4 and tuple(array.shape[1:]) != wanted:
        nchw = np.transpose(array, (0, 3, 1, 2))
        if tuple(nchw.shape[1:]) == wanted:
            return np.ascontiguousarray(nchw)
    return array


class TensorSpec(BaseModel):
    """One tensor: name, shape (``-1`` for a free batch dimension), dtype, quantisation."""

    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[int]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        """Whether the tensor holds integers standing for real values."""
        return self.scale is not None

    def sample_size(self) -> int:
        """Bytes of one sample (all dimensions but a free batch one)."""
        dims = [d for d in self.shape if d != -1]
        return math.prod(dims) * np.dtype(self.dtype).itemsize

    def concrete_shape(self, batch: int) -> tuple[int, ...]:
        """The shape with a free batch dimension set to ``batch``."""
        return tuple(batch if d == -1 else d for d in self.shape)

    def quantize(self, array: np.ndarray) -> np.ndarray:
        """Real values -> this tensor's stored dtype (integers pass through unchanged)."""
        array = np.asarray(array)
        if self.scale is None or not np.issubdtype(array.dtype, np.floating):
            return np.ascontiguousarray(array, dtype=self.dtype)
        info = np.iinfo(self.dtype)
        q = np.round(np.asarray(array, np.float32) / self.scale) + (self.zero_point or 0)
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, array: np.ndarray) -> np.ndarray:
        """Stored values -> real values (float32 when quantised)."""
        if self.scale is None:
            return array
        return ((array.astype(np.float32) - (self.zero_point or 0)) * self.scale).astype(
            np.float32
        )


class IOSpec(BaseModel):
    """Inputs and outputs of a model."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    # -- files ---------------------------------------------------------------
    @staticmethod
    def path_for(model_path: Path) -> Path:
        """Where the specification of ``model_path`` lives."""
        model_path = Path(model_path)
        return model_path.with_name(model_path.name + SUFFIX)

    def save(self, model_path: Path) -> Path:
        """Write the specification beside ``model_path``; return its path."""
        path = self.path_for(model_path)
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def load(cls, model_path: Path) -> IOSpec:
        """Read the specification beside ``model_path``.

        Raises
        ------
        ModelError
            If it is missing or malformed.
        """
        path = cls.path_for(model_path)
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError as exc:
            raise ModelError(
                f"no I/O specification for {model_path} (expected {path}); "
                "re-create the model with its compiler, which writes one",
                Path(model_path),
            ) from exc
        except ValidationError as exc:
            raise ModelError(f"malformed I/O specification {path}: {exc}", path) from exc

    # -- tensors <-> bytes -----------------------------------------------------
    @staticmethod
    def _to_bytes(specs: Sequence[TensorSpec], arrays: Sequence[np.ndarray]) -> bytes:
        if len(arrays) != len(specs):
            raise ConfigurationError(f"expected {len(specs)} tensors, got {len(arrays)}")
        return b"".join(spec.quantize(a).tobytes() for spec, a in zip(specs, arrays, strict=True))

    @staticmethod
    def _from_bytes(specs: Sequence[TensorSpec], data: bytes) -> list[np.ndarray]:
        per_sample = sum(s.sample_size() for s in specs)
        if per_sample == 0 or len(data) % per_sample:
            raise ConfigurationError(
                f"{len(data)} bytes is not a whole number of samples of {per_sample} bytes"
            )
        batch = len(data) // per_sample
        out, offset = [], 0
        for spec in specs:
            size = spec.sample_size() * batch
            arr = np.frombuffer(
                data, dtype=spec.dtype, count=size // np.dtype(spec.dtype).itemsize, offset=offset
            ).reshape(spec.concrete_shape(batch))
            out.append(arr)
            offset += size
        return out

    def inputs_to_bytes(self, arrays: Sequence[np.ndarray]) -> bytes:
        """Quantise (when needed) and serialise input tensors."""
        return self._to_bytes(self.inputs, arrays)

    def inputs_view(self, arrays: Sequence[np.ndarray]) -> bytes | memoryview:
        """Serialise input tensors as :meth:`inputs_to_bytes` does, without a copy if possible.

        One tensor already laid out as stored is viewed, not copied; the view is valid while
        ``arrays`` is unchanged.
        """
        if len(arrays) == 1 and len(self.inputs) == 1:
            flat = np.ascontiguousarray(self.inputs[0].quantize(arrays[0])).reshape(-1)
            return flat.view(np.uint8).data
        return self.inputs_to_bytes(arrays)

    def inputs_from_bytes(self, data: bytes) -> list[np.ndarray]:
        """Input tensors, in their stored dtype, from bytes."""
        return self._from_bytes(self.inputs, data)

    def outputs_to_bytes(self, arrays: Sequence[np.ndarray]) -> bytes:
        """Serialise output tensors (already in their stored dtype)."""
        return self._to_bytes(self.outputs, arrays)

    def outputs_from_bytes(self, data: bytes) -> list[np.ndarray]:
        """Output tensors from bytes, dequantised to real values."""
        return [
            s.dequantize(a)
            for s, a in zip(self.outputs, self._from_bytes(self.outputs, data), strict=True)
        ]

"""Calibration data as the deployment sees it, and the ranges quantisation was calibrated on.

An int8 quantiser calibrates on model inputs: they must be preprocessed exactly as the
deployment preprocesses them when it runs. A later step of a chain (ONNX Runtime's quantiser
on an exported ``.onnx``) reads the file through the generic ONNX wrapper, which knows
nothing of the source model's preprocessing (MobileNetV2 maps images to [-1, 1]); so the
first step, which runs the source model's wrapper, writes the calibration inputs to a file
(:func:`write_calibration`) and the quantiser reads them from it (:func:`read_calibration`).

Every calibrating compiler records the range each input had during calibration beside the
artifact (``ARTIFACT.calibration.json``); the benchmark compares it with the inputs it
feeds (:func:`range_mismatch`), so a run whose inputs reach outside what quantisation was
calibrated on says so.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import as_tensors
from kenning.utils.errors import ConfigurationError

#: how far (a fraction of the calibrated span) inputs may reach beyond it unflagged
RANGE_SLACK = 0.05


def calibration_record_path(artifact: Path) -> Path:
    """Where the ranges an artifact was calibrated on are kept."""
    return artifact.with_name(artifact.name + ".calibration.json")


def input_ranges(batches: Iterable[Any]) -> list[list[float]]:
    """``[min, max]`` of each input over ``batches`` (one array, or one per input each)."""
    lows: list[float] = []
    highs: list[float] = []
    for batch in batches:
        for k, array in enumerate(as_tensors(batch)):
            values = np.asarray(array, dtype=np.float64)
            if k == len(lows):
                lows.append(np.inf)
                highs.append(-np.inf)
            lows[k] = min(lows[k], float(values.min()))
            highs[k] = max(highs[k], float(values.max()))
    return [[lo, hi] for lo, hi in zip(lows, highs, strict=True)]


def merge_ranges(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    """The ranges covering both ``a`` and ``b`` (either may be empty)."""
    if not a or not b:
        return a or b
    return [[min(x[0], y[0]), max(x[1], y[1])] for x, y in zip(a, b, strict=True)]


def write_calibration(batches: Iterable[Any], path: Path) -> int:
    """Save model-ready calibration inputs (``input_K``: samples stacked); return the count."""
    per_input: list[list[np.ndarray]] = []
    for batch in batches:
        for k, array in enumerate(as_tensors(batch)):
            if k == len(per_input):
                per_input.append([])
            per_input[k].append(np.asarray(array))
    if not per_input:
        raise ConfigurationError(f"no calibration samples to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.npz")
    arrays = {f"input_{k}": np.concatenate(rows) for k, rows in enumerate(per_input)}
    np.savez(partial, **arrays)  # type: ignore[arg-type]
    os.replace(partial, path)
    return len(per_input[0])


def read_calibration(path: Path, samples: int) -> Iterator[Any]:
    """Up to ``samples`` single-sample inputs from a file :func:`write_calibration` wrote.

    Raises
    ------
    ConfigurationError
        If the file is missing or holds no inputs.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[f"input_{k}"] for k in range(len(data.files))]
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigurationError(f"cannot read calibration data {path}: {exc}") from exc
    if not arrays:
        raise ConfigurationError(f"calibration data {path} holds no inputs")
    for row in range(min(samples, len(arrays[0]))):
        picked = [a[row : row + 1] for a in arrays]
        yield picked[0] if len(picked) == 1 else picked


def save_record(artifact: Path, names: Sequence[str], ranges: list[list[float]], how: str) -> None:
    """Record beside ``artifact`` the range of each input it was calibrated on."""
    record = {"inputs": dict(zip(names, ranges, strict=False)), "calibrated_on": how}
    calibration_record_path(artifact).write_text(json.dumps(record, indent=1) + "\n")


def load_record(artifact: Path) -> dict[str, Any] | None:
    """The calibration record beside ``artifact`` (None: it was not calibrated)."""
    path = calibration_record_path(artifact)
    if not path.is_file():
        return None
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record


def measured_ranges(
    record: dict[str, Any], preprocess: Any, batches: Iterable[Any], samples: int = 100
) -> dict[str, list[float]]:
    """Each recorded input's range over the first ``samples`` batches, as the run feeds them."""
    chosen = (
        preprocess(inputs) for count, (_, inputs, _) in enumerate(batches) if count < samples
    )
    ranges = input_ranges(itertools.islice(chosen, samples))
    return dict(zip(record.get("inputs", {}), ranges, strict=False))


def range_mismatch(record: dict[str, Any], measured: dict[str, list[float]]) -> list[str]:
    """Inputs that reach beyond the calibrated range (each as a sentence)."""
    problems = []
    for name, (low, high) in measured.items():
        calibrated = record.get("inputs", {}).get(name)
        if calibrated is None:
            continue
        c_low, c_high = calibrated
        slack = RANGE_SLACK * max(c_high - c_low, 1e-6)
        if low < c_low - slack or high > c_high + slack:
            problems.append(
                f"input '{name}' reaches [{low:.3g}, {high:.3g}] but was calibrated on "
                f"[{c_low:.3g}, {c_high:.3g}] ({record.get('calibrated_on', 'unknown data')}): "
                "values outside are clipped by the int8 quantisation"
            )
    return problems

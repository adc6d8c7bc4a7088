"""The versioned results schema: one file per run, read by every report and by reproduce.

A results file is JSON validated by :class:`Results`; :mod:`kenning.core.recorder` writes
it while a run goes on. Version 2 stores every named figure per sample, their summaries with
confidence intervals, the measurement settings and the run's verdict; version-1 files are
upgraded as they are read.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import kenning
from kenning.core.agreement import Agreement
from kenning.core.detection import DetectionMetrics, detection_metrics
from kenning.core.figures import FIGURES, PRIMARY, FigureSummary, summarise
from kenning.core.measure import MeasureSettings, WarmupRecord
from kenning.core.metrics import (
    ClassificationMetrics,
    RegressionMetrics,
    classification_metrics,
    regression_metrics,
)
from kenning.core.resultparts import (
    DatasetInfo,
    FrameworkInfo,
    HostInfo,
    ModelInfo,
    RunPart,
    SampleResult,
    TimeSeries,
    upgrade_sample,
)
from kenning.core.validity import RunVerdict, judge
from kenning.utils.errors import ResultsError

__all__ = [
    "DatasetInfo",
    "FrameworkInfo",
    "HostInfo",
    "ModelInfo",
    "Results",
    "RunPart",
    "SampleResult",
    "TimeSeries",
    "load_results",
    "write_atomically",
]

_UMASK = os.umask(0o022)
os.umask(_UMASK)

SCHEMA_NAME: Literal["kenning.results"] = "kenning.results"
SCHEMA_VERSION: Literal[2] = 2
#: versions :func:`load_results` reads (older ones are upgraded as they are read)
READABLE_VERSIONS = (1, 2)


class Results(BaseModel):
    """A results file (schema version 2; see :mod:`kenning.core.figures` for its figures)."""

    model_config = ConfigDict(extra="forbid")

    schema_name: Literal["kenning.results"] = Field(SCHEMA_NAME, alias="schema")
    schema_version: Literal[2] = SCHEMA_VERSION
    status: Literal["running", "complete", "partial", "failed"] = "running"
    error: str | None = None
    scenario: str
    command: list[str]
    created: str
    kenning_version: str = kenning.__version__
    host: HostInfo
    frameworks: list[FrameworkInfo]
    model: ModelInfo
    dataset: DatasetInfo
    measure: MeasureSettings | None = None
    warmup: WarmupRecord | None = None
    samples: list[SampleResult] = []
    system: TimeSeries | None = None
    target_system: TimeSeries | None = None
    measurements: dict[str, Any] = {}
    metrics: ClassificationMetrics | None = None
    regression: RegressionMetrics | None = None
    detection: DetectionMetrics | None = Field(
        None, description="detection: mAP by pycocotools over the distinct samples"
    )
    figures: dict[str, FigureSummary] = {}
    verdict: RunVerdict | None = None
    parts: list[RunPart] = Field(
        [], description="a resumed run: the earlier parts' warm-up and load (judged each)"
    )
    outputs_file: str | None = Field(
        None, description="beside this file: each distinct sample's outputs (.npz)"
    )
    agreement: Agreement | None = None
    provenance: dict[str, Any] = {}

    def distinct_samples(self) -> list[SampleResult]:
        """Each dataset sample once (its first measurement): what quality metrics count."""
        first: dict[int, SampleResult] = {}
        for sample in sorted(self.samples, key=lambda s: s.seq):
            first.setdefault(sample.index, sample)
        return list(first.values())

    def detections_by_index(self) -> dict[int, list[list[float]]]:
        """Each distinct sample's decoded detections, by dataset index (detection runs)."""
        return {s.index: s.detections for s in self.distinct_samples() if s.detections is not None}

    def figure_values(self, name: str = PRIMARY) -> list[float]:
        """The value of figure ``name`` for each runtime call, in run order.

        One call is one timing: the samples of a batch share their call's durations, so they
        count once (per-sample durations are derived, divided by the batch size).
        """
        calls: dict[int, float] = {}
        for sample in sorted(self.samples, key=lambda s: s.seq):
            value = sample.figure(name)
            if value is not None:
                calls.setdefault(sample.batch, value)
        return list(calls.values())

    @property
    def primary(self) -> FigureSummary | None:
        """The summary of the figure latencies are compared by (``inference``)."""
        return self.figures.get(PRIMARY)

    def compute_metrics(self) -> None:
        """Fill ``metrics``, ``figures`` and ``verdict`` from the samples."""
        if not self.samples:
            self.verdict = judge(self)
            return
        distinct = self.distinct_samples()
        scored = [s for s in distinct if s.value is not None and s.target is not None]
        self.regression = (
            regression_metrics([s.value or 0.0 for s in scored], [s.target or 0.0 for s in scored])
            if scored
            else None
        )
        boxed = [s for s in distinct if s.boxes is not None and s.detections is not None]
        self.detection = (
            detection_metrics(
                [s.detections or [] for s in boxed],
                [s.boxes or [] for s in boxed],
                len(self.dataset.class_names),
            )
            if boxed
            else None
        )
        labelled = bool(self.dataset.class_names) and self.dataset.task == "classification"
        self.metrics = (
            None
            if not labelled
            else classification_metrics(
                [s.predictions for s in distinct],
                [s.ground_truth for s in distinct],
                len(self.dataset.class_names),
            )
        )
        settings = self.measure or MeasureSettings()
        self.figures = {}
        for name in FIGURES:
            values = self.figure_values(name)
            if values:
                self.figures[name] = summarise(
                    name,
                    values,
                    settings.percentiles,
                    settings.confidence,
                    batch_size=self.dataset.batch_size,
                )
        self.verdict = judge(self)

    def dump(self) -> str:
        """The JSON text of the file."""
        return self.model_dump_json(indent=1, by_alias=True)


def load_results(path: Path) -> Results:
    """Read and validate a results file.

    Raises
    ------
    ResultsError
        If the file is missing, not JSON, not a kenning results file, or of an
        unknown schema version.
    """
    import json

    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ResultsError(f"results file {path} does not exist", path) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(
            f"{path} is not a kenning results file (not JSON: {exc})", path
        ) from exc
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA_NAME:
        raise ResultsError(f"{path} is not a kenning results file (no 'schema' field)", path)
    if raw.get("schema_version") not in READABLE_VERSIONS:
        raise ResultsError(
            f"{path} has results schema version {raw.get('schema_version')!r}; this kenning "
            f"({kenning.__version__}) reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
            path,
        )
    try:
        if raw["schema_version"] == 1:
            return _upgrade(raw)
        return Results.model_validate(raw)
    except ValidationError as exc:
        raise ResultsError(f"{path} is not a valid results file: {exc}", path) from exc


def _upgrade(raw: dict[str, Any]) -> Results:
    """A version-1 file as version 2: samples renamed, figures and verdict recomputed."""
    data = dict(raw, schema_version=SCHEMA_VERSION)
    data.pop("latency", None)
    data["samples"] = [upgrade_sample(s) for s in raw.get("samples", [])]
    results = Results.model_validate(data)
    results.compute_metrics()
    return results


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader never sees half a file.

    Raises
    ------
    ResultsError
        If the folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        raise ResultsError(f"cannot write results to {path}: {exc.strerror or exc}", path) from exc


def now() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")

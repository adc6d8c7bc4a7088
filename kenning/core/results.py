"""The versioned results schema, and a recorder that never loses finished samples.

A results file is JSON validated by :class:`Results`. :class:`ResultsRecorder`
writes it atomically at the start (so an unwritable path fails before any
work), every few seconds while samples arrive, and at the end, marking the
run ``partial`` or ``failed`` if it did not complete.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import kenning
from kenning.core.errors import ResultsError
from kenning.core.measurements import SystemMonitor
from kenning.core.metrics import ClassificationMetrics, LatencySummary, classification_metrics
from kenning.core.metrics import latency_summary as summarise

_UMASK = os.umask(0o022)
os.umask(_UMASK)

SCHEMA_NAME: Literal["kenning.results"] = "kenning.results"
SCHEMA_VERSION: Literal[1] = 1


class FrameworkInfo(BaseModel):
    """A framework that took part, and in which role."""

    role: Literal["model", "compiler", "runtime", "protocol"]
    name: str
    version: str


class HostInfo(BaseModel):
    """The machine that ran the scenario."""

    hostname: str
    platform: str
    machine: str
    python: str
    cpu_count: int
    ram_bytes: int

    @classmethod
    def current(cls) -> HostInfo:
        """Describe this machine."""
        return cls(
            hostname=socket.gethostname(),
            platform=platform.platform(),
            machine=platform.machine(),
            python=platform.python_version(),
            cpu_count=os.cpu_count() or 1,
            ram_bytes=psutil.virtual_memory().total,
        )


class SampleResult(BaseModel):
    """One sample: what was predicted, what was true, how long it took."""

    index: int = Field(description="index of the sample in the dataset")
    ground_truth: int
    predictions: list[int] = Field(description="top-5 class indices, the first is the prediction")
    time_s: float = Field(description="host-observed duration of the inference call")
    target_time_s: float | None = Field(None, description="duration measured on the target")
    batch: int = Field(0, description="number of the inference call the sample was in")
    timestamp_s: float | None = Field(
        None, description="when the sample finished, in seconds on the system series' clock"
    )


class TimeSeries(BaseModel):
    """System load sampled in the background (see SystemMonitor)."""

    interval_s: float
    timestamps: list[float]
    cpu_percent: list[list[float]] = Field(description="per sample, per core")
    ram_used_bytes: list[int]
    ram_percent: list[float]
    gpu_available: bool
    gpu_percent: list[float] | None = None
    gpu_memory_bytes: list[int] | None = None


class ModelInfo(BaseModel):
    """The model that was run."""

    wrapper: str
    path: str
    size_bytes: int | None = None
    compiler: str | None = None
    runtime: str | None = None


class DatasetInfo(BaseModel):
    """The data it was run on."""

    cls: str = Field(alias="class")
    subset: str
    num_samples: int
    class_names: list[str]
    batch_size: int

    model_config = ConfigDict(populate_by_name=True)


class Results(BaseModel):
    """A results file."""

    model_config = ConfigDict(extra="forbid")

    schema_name: Literal["kenning.results"] = Field(SCHEMA_NAME, alias="schema")
    schema_version: Literal[1] = SCHEMA_VERSION
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
    samples: list[SampleResult] = []
    system: TimeSeries | None = None
    target_system: TimeSeries | None = None
    measurements: dict[str, Any] = {}
    metrics: ClassificationMetrics | None = None
    latency: LatencySummary | None = None
    provenance: dict[str, Any] = {}

    def compute_metrics(self) -> None:
        """Fill ``metrics`` and ``latency`` from the samples."""
        if not self.samples:
            return
        self.metrics = classification_metrics(
            [s.predictions for s in self.samples],
            [s.ground_truth for s in self.samples],
            len(self.dataset.class_names),
        )
        self.latency = summarise([s.time_s for s in self.samples])

    def dump(self) -> str:
        """The JSON text of the file."""
        return self.model_dump_json(indent=1, by_alias=True)


def _dotted(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__name__}"


def new_results(
    scenario: str,
    model: Any,
    dataset: Any,
    frameworks: list[FrameworkInfo],
    model_path: Path,
    compiler: Any = None,
    runtime: str | None = None,
) -> Results:
    """The metadata of a run on the validation subset, with no samples yet.

    Parameters
    ----------
    scenario : str
        Name of the scenario writing the file.
    model, dataset : ModelWrapper, Dataset
        What runs, on what.
    frameworks : list of FrameworkInfo
        The frameworks taking part.
    model_path : Path
        The model file that runs (the compiled artifact when there is one).
    compiler : ModelCompiler, optional
        The compiler that produced ``model_path``.
    runtime : str, optional
        The runtime's name.
    """
    model_path = Path(model_path)
    return Results(
        scenario=scenario,
        command=command_line(),
        created=ResultsRecorder.now(),
        host=HostInfo.current(),
        frameworks=frameworks,
        model=ModelInfo(
            wrapper=_dotted(model),
            path=str(model_path),
            size_bytes=model_path.stat().st_size if model_path.is_file() else None,
            compiler=_dotted(compiler) if compiler is not None else None,
            runtime=runtime,
        ),
        dataset=DatasetInfo(
            cls=_dotted(dataset),
            subset="validation",
            num_samples=len(dataset.subset_indices("validation")),
            class_names=dataset.get_class_names(),
            batch_size=dataset.batch_size,
        ),
    )


def on_target_times(results: Results) -> list[float] | None:
    """The target's own inference times when every sample has one (a protocol run), else None.

    Through a protocol the host sees the target's two OKs, which arrive together when
    inference is shorter than the host's wake-up: the target's clock is the inference
    latency comparable with an in-process run.
    """
    times = [s.target_time_s for s in results.samples]
    if not times or any(t is None for t in times):
        return None
    return [t for t in times if t is not None]


def summary_line(results: Results, path: Path) -> str:
    """One line for the terminal: samples, accuracy, top-5, latency, where the file is."""
    if results.metrics is None or results.latency is None:
        return f"no samples completed -> {path}"
    return (
        f"{results.dataset.num_samples} samples: accuracy {results.metrics.accuracy:.4f}, "
        f"top-5 {results.metrics.top5_accuracy:.4f}, latency p50 "
        f"{results.latency.median * 1e3:.3f} ms p99 {results.latency.p99 * 1e3:.3f} ms -> {path}"
    )


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
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise ResultsError(
            f"{path} has results schema version {raw.get('schema_version')!r}; this kenning "
            f"({kenning.__version__}) reads version {SCHEMA_VERSION}",
            path,
        )
    try:
        return Results.model_validate(raw)
    except ValidationError as exc:
        raise ResultsError(f"{path} is not a valid results file: {exc}", path) from exc


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


class ResultsRecorder:
    """Collect samples into a :class:`Results` and keep the file on disk current.

    Parameters
    ----------
    path : Path
        The results file; written at once, so a bad path fails early.
    results : Results
        The metadata of the run, with no samples yet.
    flush_interval : float
        Seconds between rewrites while samples arrive.
    """

    def __init__(self, path: Path, results: Results, flush_interval: float = 2.0) -> None:
        self.path = Path(path)
        self.results = results
        self.flush_interval = flush_interval
        #: when set, each write stores the monitor's series so far as ``system``
        self.monitor: SystemMonitor | None = None
        self._last_flush = time.monotonic()
        self.flush()

    @staticmethod
    def now() -> str:
        """The current time, ISO 8601 in UTC."""
        return datetime.now(UTC).isoformat(timespec="seconds")

    def add(self, sample: SampleResult) -> None:
        """Record one finished sample, rewriting the file when it is due."""
        self.results.samples.append(sample)
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        """Write the file as it stands."""
        if self.monitor is not None:
            self.results.system = TimeSeries(**self.monitor.snapshot())
        write_atomically(self.path, self.results.dump())
        self._last_flush = time.monotonic()

    def finish(
        self, status: Literal["complete", "partial", "failed"], error: str | None = None
    ) -> Results:
        """Compute metrics, mark the status and write the final file."""
        self.results.status = status
        self.results.error = error
        self.results.compute_metrics()
        self.flush()
        return self.results


def command_line() -> list[str]:
    """The command that started this process, as a list of words."""
    return (
        [Path(sys.executable).name, *sys.orig_argv[1:]] if hasattr(sys, "orig_argv") else sys.argv
    )

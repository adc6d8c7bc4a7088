"""The pieces of a results file: machine, model, data, one sample, a load series.

Schema version 2 keeps, per sample, every named figure of :mod:`kenning.core.figures`
(``inference_s``, ``end_to_end_s``, ``preprocess_s``, ``postprocess_s``, ``ok_interval_s``)
and the sample's place in the measured sequence (``seq``); :func:`upgrade_sample` reads a
version-1 sample (``time_s``, ``target_time_s``) into that shape.
"""

from __future__ import annotations

import os
import platform
import socket
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field

from kenning.core.measure import WarmupRecord


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
    """One measured sample: what was predicted, what was true, each figure's duration.

    Durations are those of the inference call the sample was in (a batch's samples share
    them); see :data:`kenning.core.figures.FIGURES` for what each one times.
    """

    index: int = Field(description="index of the sample in the dataset")
    seq: int = Field(0, description="position in the measured sequence (0 = first measured)")
    ground_truth: int
    predictions: list[int] = Field(description="top-5 class indices, the first is the prediction")
    inference_s: float = Field(description="the runtime call alone, on the machine running it")
    end_to_end_s: float | None = Field(None, description="host: preprocessing to output")
    preprocess_s: float | None = None
    postprocess_s: float | None = None
    ok_interval_s: float | None = Field(None, description="diagnostic: between the two OKs")
    target: float | None = Field(None, description="regression: the true value")
    value: float | None = Field(None, description="regression: the model's first output")
    detections: list[list[float]] | None = Field(
        None, description="detection: the decoded detections, rows x1, y1, x2, y2, score, class"
    )
    boxes: list[list[float]] | None = Field(
        None, description="detection: the true boxes, rows x1, y1, x2, y2, class"
    )
    batch: int = Field(0, description="number of the inference call the sample was in")
    timestamp_s: float | None = Field(
        None, description="when the sample finished, in seconds on the system series' clock"
    )

    def figure(self, name: str) -> float | None:
        """The sample's value of figure ``name`` (None when the run did not measure it)."""
        value = getattr(self, f"{name}_s", None)
        return float(value) if value is not None else None


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
    process_cpu_percent: list[float] | None = Field(
        None, description="per sample, the measured process's own CPU (100 = one core)"
    )
    process_rss_bytes: list[int] | None = None
    cpu_freq_mhz: list[list[float]] | None = Field(
        None, description="per sample, per core; None where the machine does not say"
    )
    throttle_count: int | None = Field(
        None, description="thermal throttling events during the run; None where unavailable"
    )
    throttle_counts: list[int | None] | None = Field(
        None, description="per sample, the kernel's throttling count so far (None: not counted)"
    )
    cpu_freq_source: str | None = Field(
        None, description="where the clock was read: cpufreq (/sys) or cpuinfo (/proc)"
    )
    other_processes: list[list[list[Any]]] | None = Field(
        None,
        description="per sample, the other processes that wanted the most CPU: [name, pid, "
        "CPU percent used, percent waited for a CPU (where counted)]",
    )
    other_wait_percent: list[float] | None = Field(
        None,
        description="per sample, CPU other processes waited for on a run queue (100 = one "
        "core); None where the kernel does not count it",
    )
    sampler: str = Field("thread", description="process: sampled by a process of its own")
    window_start_s: float | None = Field(
        None, description="the measured phase (after warm-up) on this series' clock: start"
    )
    window_end_s: float | None = Field(None, description="... and end (so far, while running)")
    monitor_error: str | None = Field(None, description="why the sampler stopped early")


class RunPart(BaseModel):
    """An earlier part of a resumed run: its samples, warm-up and the load beside it."""

    samples: int = Field(description="samples this part measured (kept on resume)")
    created: str
    status: str
    error: str | None = None
    warmup: WarmupRecord | None = None
    system: TimeSeries | None = None
    target_system: TimeSeries | None = None


class ModelInfo(BaseModel):
    """The model that was run."""

    wrapper: str
    path: str
    size_bytes: int | None = None
    compiler: str | None = None
    runtime: str | None = None
    sha256: str | None = Field(None, description="of the model file that ran")
    outputs: list[str] = Field([], description="the model's outputs, in order")
    scored_output: str | None = Field(
        None, description="the output the dataset's metrics score (accuracy, top-5, ...)"
    )


class DatasetInfo(BaseModel):
    """The data it was run on."""

    cls: str = Field(alias="class")
    subset: str
    num_samples: int
    class_names: list[str]
    batch_size: int
    task: str = Field(
        "classification", description="classification, regression, detection or none"
    )
    parameters: dict[str, Any] = Field(
        {}, description="the dataset's flags (split seed, fraction, batch size, root, ...)"
    )

    model_config = ConfigDict(populate_by_name=True)


def upgrade_sample(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 sample as version 2: its time was on-target when it has one, else in-process.

    Version 1 timed an in-process call with pre- and postprocessing, which becomes both its
    ``inference_s`` and ``end_to_end_s``; a protocol sample's host time was the OK interval.
    """
    sample = dict(raw)
    host = sample.pop("time_s", None)
    target = sample.pop("target_time_s", None)
    if target is not None:
        sample.update(inference_s=target, ok_interval_s=host)
    else:
        sample.update(inference_s=host, end_to_end_s=host)
    sample.setdefault("seq", sample.get("index", 0))
    return sample

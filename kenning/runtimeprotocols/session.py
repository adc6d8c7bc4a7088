"""A benchmark session on a target: connect, send the model, infer batch by batch, collect.

:class:`RemoteSession` is what ``inference_tester`` runs over a protocol; its in-process twin
is :class:`kenning.core.pipeline.LocalSession`. Both give :func:`run_benchmark` an ``infer``
that times the same figures: the target times ``Runtime.run()`` alone (``inference``), the
host its own pre- and postprocessing, and the seed protocol's interval between the two OKs to
PROCESS is kept as a diagnostic. Entering the session connects and uploads; any failure there
closes the connection before it propagates, and leaving the session always closes it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.benchmark import Outcome
from kenning.core.firmwaremodel import firmware_model_sha256
from kenning.core.iospec import IOSpec, as_tensors
from kenning.core.measurements import collector
from kenning.core.model import ModelWrapper
from kenning.core.resultparts import TimeSeries
from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.utils.errors import ModelError

#: seconds between STATS requests while samples run (the target's load is sampled every 0.2 s)
STATS_EVERY_S = 0.25


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes; of a firmware model folder, the model's.

    A folder is a model built into a microcontroller's firmware (compiler ``onnx-c``): its
    ``model.json`` names the SHA-256 of the model the firmware holds
    (:func:`kenning.core.firmwaremodel.firmware_model_sha256`).
    """
    if Path(path).is_dir():
        return firmware_model_sha256(Path(path))
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class TargetStatistics:
    """What the target reported through STATS, accumulated over the session.

    The measured window on the target's clock is marked here, by the host: it begins at the
    ``clock_s`` of the STATS reply that :meth:`begin_window` is given and ends at that of
    the latest reply since (a server too old to send ``clock_s`` leaves it unmarked).
    """

    def __init__(self) -> None:
        self.inference_times: list[float] = []
        self.series: dict[str, Any] = {}
        self.peak_rss_bytes: int | None = None
        self.window: list[float | None] = [None, None]
        #: a microcontroller's latest stack high-water mark (it grows as the model runs)
        self.firmware: dict[str, Any] = {}

    def add(self, stats: dict[str, Any]) -> None:
        """Append one STATS reply (which holds what happened since the previous one)."""
        self.inference_times.extend(float(t) for t in stats.get("inference_time_s", []))
        self.peak_rss_bytes = stats.get("peak_rss_bytes", self.peak_rss_bytes)
        if "stack_high_water_bytes" in stats:
            self.firmware["stack_high_water_bytes"] = stats["stack_high_water_bytes"]
        for name, value in (stats.get("system") or {}).items():
            if isinstance(value, list) and isinstance(self.series.get(name, []), list):
                self.series.setdefault(name, []).extend(value)
            else:
                self.series[name] = value
        clock = stats.get("clock_s")
        if self.window[0] is not None and isinstance(clock, int | float):
            self.window[1] = float(clock)

    def begin_window(self, stats: dict[str, Any]) -> None:
        """The measured phase begins at this reply's clock."""
        clock = stats.get("clock_s")
        self.window = (
            [float(clock), float(clock)] if isinstance(clock, int | float) else [None] * 2
        )

    def covered(self) -> bool:
        """Whether the target's samples reach the end of the window (or nothing is marked)."""
        stamps = self.series.get("timestamps") or []
        end = self.window[1]
        return end is None or (bool(stamps) and stamps[-1] >= end)

    def time_series(self) -> TimeSeries | None:
        """The target's load series so far, or ``None`` before the first sample."""
        if not self.series.get("timestamps"):
            return None
        fields = set(TimeSeries.model_fields)
        values = {k: v for k, v in self.series.items() if k in fields}
        values["window_start_s"], values["window_end_s"] = self.window
        return TimeSeries(**values)


class RemoteSession:
    """Benchmark a compiled model on a target through ``protocol``.

    Parameters
    ----------
    protocol : FramedProtocol
        The transport, not yet connected.
    model : ModelWrapper
        Pre- and postprocesses on the host.
    spec : IOSpec
        The artifact's inputs and outputs.
    artifact : Path
        The compiled model sent to the target.
    stats_every : float
        Seconds between ``STATS`` requests while samples run (``0``: after every sample);
        the target keeps what happened since the previous one, so nothing is lost between.
        A target that keeps only a few inference times (it reports
        ``inference_times_dropped``: a microcontroller) is asked after every sample.
    """

    def __init__(
        self,
        protocol: FramedProtocol,
        model: ModelWrapper,
        spec: IOSpec,
        artifact: Path,
        stats_every: float = STATS_EVERY_S,
    ) -> None:
        self.client = ProtocolClient(protocol)
        self.stats_every = stats_every
        self._stats_due = 0.0  # time.perf_counter() of the next sample's STATS
        self.model = model
        self.spec = spec
        self._scored = model.scored_index()
        self.artifact = Path(artifact)
        self.sha256 = file_sha256(self.artifact)
        self.target = TargetStatistics()
        self.info: dict[str, Any] = {}

    def __enter__(self) -> RemoteSession:
        try:
            self.client.connect()
            self.client.upload_io_spec(self.spec)
            with collector.timed("model_upload_s"):
                self.info = self.client.upload_model(self.artifact)
            self.info["frame_auth"] = self.client.protocol.frame_auth
            loaded = self.info.get("sha256")
            if loaded != self.sha256:
                raise ModelError(
                    f"the target loaded a model with SHA-256 {loaded}, not the {self.sha256} "
                    f"of {self.artifact}: its results would be about another model",
                    self.artifact,
                )
        except BaseException:
            self.client.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    @property
    def runtime(self) -> tuple[str, str]:
        """The target runtime's name and version."""
        return str(self.info.get("runtime")), str(self.info.get("version"))

    def infer(self, batch: np.ndarray) -> Outcome:
        """One full exchange: DATA, PROCESS, OUTPUT (STATS when due), pre- and postprocessing."""
        t0 = time.perf_counter()
        inputs = as_tensors(self.model.preprocess_input(batch))
        t1 = time.perf_counter()
        self.client.upload_input(self.spec.inputs_view(inputs))
        interval, on_target = self.client.request_processing()
        outputs = self.spec.outputs_from_bytes(bytes(self.client.download_output()))
        t2 = time.perf_counter()
        scores = self.model.postprocess_outputs(outputs[self._scored])
        t3 = time.perf_counter()
        if t3 >= self._stats_due:
            self._statistics()
        return Outcome(
            scores,
            inference_s=on_target,
            preprocess_s=t1 - t0,
            postprocess_s=t3 - t2,
            end_to_end_s=t3 - t0,
            ok_interval_s=interval,
            tensors=outputs,
        )

    def _statistics(self) -> dict[str, Any]:
        """One STATS exchange, added to :attr:`target`; the next is due ``stats_every`` on."""
        stats = self.client.download_statistics()
        self.target.add(stats)
        if "inference_times_dropped" in stats:  # it keeps a few times only: ask every sample
            self.stats_every = 0.0
        self._stats_due = time.perf_counter() + self.stats_every
        return stats

    def begin_measuring(self) -> None:
        """Mark the start of the measured phase on the target's clock (a STATS exchange)."""
        self.target.begin_window(self._statistics())

    def end_measuring(self) -> None:
        """Mark its end, then wait until the target's load samples cover it.

        Raises
        ------
        ProtocolError
            If a STATS exchange fails.
        """
        self._statistics()
        interval = float(self.target.series.get("interval_s") or 0.2)
        deadline = time.monotonic() + 3 * interval + 2.0
        while not self.target.covered() and time.monotonic() < deadline:
            time.sleep(interval / 4)
            stats = self.client.download_statistics()
            end = self.target.window[1]
            self.target.add(stats)
            self.target.window[1] = end  # these replies only bring the samples that cover it

    def measurements(self) -> dict[str, Any]:
        """What the target reported, for the results file's ``measurements``."""
        return {
            "target": dict(
                self.info,
                **self.target.firmware,
                inference_time_s=self.target.inference_times,
                peak_rss_bytes=self.target.peak_rss_bytes,
            ),
        }

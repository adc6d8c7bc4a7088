"""STATS is asked for on a beat while samples run, not after each, and no figure is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest_protocol import SPEC, model_file, thread_server
from test_measurement import BATCH, Identity

from kenning.runtimeprotocols.network import NetworkProtocol
from kenning.runtimeprotocols.session import RemoteSession

SAMPLES = 50


@pytest.mark.parametrize(("every", "asked"), [(0.0, SAMPLES), (60.0, 1)])
def test_stats_on_a_beat_keep_every_inference_time(
    tmp_path: Path, every: float, asked: int
) -> None:
    with thread_server(tmp_path, inference_time=0.0) as server:
        protocol = NetworkProtocol(port=server.port, timeout=5.0)
        with RemoteSession(protocol, Identity(), SPEC, model_file(tmp_path),  # type: ignore[arg-type]
                           stats_every=every) as session:  # fmt: skip
            requests: list[dict[str, Any]] = []
            download = session.client.download_statistics

            def counted() -> dict[str, Any]:
                requests.append(download())
                return requests[-1]

            session.client.download_statistics = counted  # type: ignore[method-assign]
            outcomes = [session.infer(BATCH) for _ in range(SAMPLES)]
            assert len(requests) == asked  # the first sample asks, then the beat decides
            session.end_measuring()  # the target kept what came between: nothing is lost
            assert len(session.target.inference_times) == SAMPLES
    on_target = sorted(o.inference_s for o in outcomes)
    assert sorted(session.target.inference_times) == pytest.approx(on_target)

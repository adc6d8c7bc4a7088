"""The README's main job end to end: scenarios/digits.yaml trained, compiled every way, benched."""

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROOT
from loadtools import cpu_hogs, wait_quiet

from kenning.boards.local import BoardError, LocalBoard, local_server
from kenning.core.results import load_results
from kenning.executors.local import LocalExecutor
from kenning.toolchain.run.benchtask import load_job, run_bench
from kenning.toolchain.run.runner import run_scenario
from kenning.toolchain.run.training import with_epochs


@pytest.mark.slow
def test_demo_benchmarks_every_deployment_through_the_protocol(tmp_path: Path) -> None:
    job = with_epochs(load_job(ROOT / "scenarios" / "digits.yaml"), 4)
    wait_quiet()  # VALID is what a quiet machine makes true
    report = run_scenario(LocalExecutor(), job, tmp_path)
    assert report.is_file()
    html = report.read_text()
    results = sorted((tmp_path / "results").glob("*/*.json"))
    assert len(results) == len(job.scenario.deployments) + len(job.models) == 8
    repeats = sorted((tmp_path / "results").glob("*/*.runs/*.json"))
    assert len(repeats) == 2 * len(results)  # three runs of each, each in its own process
    for path in [*results, *repeats]:
        res = load_results(path)
        assert res.status == "complete", path
        assert res.metrics is not None and res.metrics.accuracy > 0.85, path
        assert res.verdict is not None
        steps = res.provenance["steps"]
        assert all(step["exit_code"] == 0 for step in steps.values())
        assert "train" in steps  # trained in this run: its record stays with every result
        if res.scenario == "inference_tester":
            # benchmarked on the local board through the protocol
            assert res.provenance["board"] == "local"
            assert res.provenance["scenario"] == "digits"
            assert all(s.ok_interval_s is not None for s in res.samples)
        # the default run is long enough, warmed up and undisturbed, and says what it checked
        assert res.verdict.state == "VALID", (path, res.verdict.line())
        if res.scenario == "inference_tester":
            assert {f.role for f in res.frameworks} >= {"compiler", "runtime", "protocol"}
            # the outputs follow the model's own on every sample both measured
            assert res.agreement is not None and res.agreement.samples == 450, path
            assert res.agreement.agrees and res.agreement.top1 > 0.97, (path, res.agreement)
    assert html.count("<img") >= len(results)
    assert "Pareto" in html and "Agreement" in html
    assert "3+3 runs)" in html  # against the fastest: judged between sets of runs
    assert (tmp_path / "summary.json").is_file()

    # the same runtimes beside two CPU-burning processes: every run INVALID, the hogs named
    # (a build of its own, so the references run again rather than being re-used)
    busy_job = replace(job, measure=job.measure.model_copy(update={"repeats": 1}))
    shutil.copytree(tmp_path / "models", tmp_path / "busy" / "models")
    with cpu_hogs(2, tmp_path) as hogs:
        _, busy = run_bench(
            LocalExecutor(),
            busy_job,
            tmp_path / "busy",
            [LocalBoard()],
            ["torch-tvm", "tf-tflite", "torch-onnx-ort"],
        )
    assert len(busy) == 5  # two references (PyTorch, TensorFlow) and three deployments
    for path in busy:
        res = load_results(path)
        assert res.verdict is not None and res.verdict.state == "INVALID", path
        named = "; ".join(res.verdict.reasons)
        assert "other load: other processes wanted" in named, (path, named)
        assert any(f"cpu-hog (pid {pid})" in named for pid in hogs), (path, named)


def test_local_board_that_cannot_start_names_board_and_step(tmp_path: Path) -> None:
    with pytest.raises(BoardError) as err:
        with local_server("kenning.runtimes.nothing.Nope", tmp_path / "m", tmp_path / "log"):
            pass
    message = str(err.value)
    assert "board 'local', starting the server" in message
    assert "kenning.runtimes.nothing.Nope" in message


def test_a_silent_local_server_start_fails_within_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    (tmp_path / "silentrt.py").write_text("import time\ntime.sleep(120)\n")  # never listens
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    start = time.monotonic()
    with pytest.raises(BoardError, match="did not say where it listens within 2 s"):
        with local_server(
            "silentrt.Silent", tmp_path / "m", tmp_path / "log", startup_timeout=2.0
        ):
            pass
    assert time.monotonic() - start < 6

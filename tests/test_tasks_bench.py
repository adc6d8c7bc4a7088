"""`invoke bench` on the local board, `--resume`, and `invoke reproduce` of its results."""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

from pathlib import Path

import pytest
from conftest import ROOT
from conftest_docker import docker_client  # noqa: F401 - fixture
from conftest_tasks import build, invoke  # noqa: F401 - fixture
from loadtools import wait_quiet

from kenning.core.results import load_results, write_atomically


def _bench(build: Path, *args: str) -> Path:
    done = invoke("bench", "--build", str(build), *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert (ROOT / build / "reports" / "local" / "index.html").is_file()
    return ROOT / build / "results" / "local"


@pytest.mark.slow
def test_bench_on_the_local_board_then_reproduce_and_resume(build: Path) -> None:
    wait_quiet()
    results = _bench(build, "--deployment", "tf-tflite", "--executor", "local") / "tf-tflite.json"
    first = load_results(results)
    assert first.status == "complete" and len(first.samples) >= 1000
    assert first.verdict is not None and first.verdict.state == "VALID", first.verdict.line()
    # three runs, each its own process, the first naming the others
    assert first.provenance["repeats"] == ["tf-tflite.runs/2.json", "tf-tflite.runs/3.json"]
    for name in first.provenance["repeats"]:
        repeat = load_results(results.parent / name)
        assert repeat.verdict is not None and repeat.verdict.state == "VALID"
        assert repeat.provenance["repeat_of"] == "tf-tflite.json"
    assert first.provenance["board"] == "local"
    assert first.provenance["server"]["kind"] == "local"
    assert list(first.provenance["steps"]) == ["compile", "benchmark"]
    assert all(s.ok_interval_s is not None for s in first.samples)  # through the protocol

    done = invoke("reproduce", str(build / "results" / "local" / "tf-tflite.json"),
                  "--workspace", str(build / "again"))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "REPRODUCED" in done.stdout and "NOT REPRODUCED" not in done.stdout
    assert "3+3 runs" in done.stdout and "every run VALID" in done.stdout
    again = load_results(ROOT / build / "again" / build / "results" / "local" / "tf-tflite.json")
    both = min(len(again.samples), len(first.samples))
    assert [s.predictions for s in again.samples[:both]] == [
        s.predictions for s in first.samples[:both]
    ]

    # a result that no longer matches what its steps produce is not reproduced
    tampered = first.model_copy(deep=True)
    tampered.samples[0].predictions = [(tampered.samples[0].predictions[0] + 1) % 10]
    tampered.compute_metrics()
    write_atomically(results, tampered.dump())
    done = invoke("reproduce", str(results), "--workspace", str(build / "again"))
    assert done.returncode == 1
    assert "NOT REPRODUCED" in done.stdout and "predictions" in done.stdout

    # --resume keeps the finished samples of a partial run and runs the rest
    partial = first.model_copy(deep=True)
    partial.samples = partial.samples[:100]
    partial.status, partial.error = "partial", "board died"
    write_atomically(results, partial.dump())
    _bench(build, "--deployment", "tf-tflite", "--executor", "local", "--resume")
    resumed = load_results(results)
    assert resumed.status == "complete" and len(resumed.samples) >= 1000
    assert resumed.provenance["resumed"] == {"kept_samples": 100}
    assert resumed.samples[:100] == partial.samples
    # the same sequence as the uninterrupted run: no sample twice, none missing
    both = min(len(resumed.samples), len(first.samples))
    assert [(s.seq, s.index) for s in resumed.samples] == [
        (s.seq, s.index) for s in sorted(resumed.samples, key=lambda s: s.seq)
    ]
    assert [(s.seq, s.index) for s in resumed.samples[:both]] == [
        (s.seq, s.index) for s in first.samples[:both]
    ]
    # the first part's window was cut to its 100 samples' file: both parts judged
    assert len(resumed.parts) == 1 and resumed.parts[0].samples == 100


def test_reproduce_refuses_results_without_steps(tmp_path: Path) -> None:
    from test_core_results import make_results

    from kenning.datasets.digits import DigitsDataset

    path = tmp_path / "r.json"
    results = make_results(DigitsDataset(None))  # a valid file, made by hand: no steps
    write_atomically(path, results.dump())
    assert load_results(path).provenance.get("steps") is None
    done = invoke("reproduce", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "records no steps" in done.stderr, done.stderr


def test_bench_without_models_says_what_to_run(tmp_path: Path) -> None:
    done = invoke("bench", "--deployment", "tf-tflite", "--executor", "local",
                  "--build", str(tmp_path))  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "invoke train" in done.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_reproduce_in_the_same_images_and_name_the_image_that_changed(
    build: Path, docker_client: object
) -> None:
    results = _bench(build, "--deployment", "torch-tvm", "--executor", "docker") / "torch-tvm.json"
    steps = load_results(results).provenance["steps"]
    assert [steps[s]["image"] for s in ("export", "compile")] == [
        "kenning/train-torch:latest", "kenning/compile-tvm:latest"]  # fmt: skip

    done = invoke("reproduce", str(results), "--workspace", str(build / "again"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "REPRODUCED" in done.stdout
    assert done.stdout.count("same image") == 2

    # the results were made before compile-tvm's lock changed and the image was rebuilt
    edited = load_results(results)
    record = edited.provenance["steps"]["compile"]
    record["lock_sha256"]["requirements.lock"] = "0" * 64
    record["image_id"] = "sha256:" + "1" * 64
    write_atomically(results, edited.dump())
    done = invoke("reproduce", str(results), "--workspace", str(build / "again"))
    assert done.returncode == 1
    assert "NOT REPRODUCED" in done.stdout
    assert "kenning/compile-tvm:latest: requirements.lock 000000000000 ->" in done.stdout
    assert "train-torch" not in done.stdout.split("NOT REPRODUCED")[1]
    assert "accuracy" not in done.stdout.split("NOT REPRODUCED")[1]  # the numbers agree


def test_reproduce_empties_only_its_own_workspaces(tmp_path: Path) -> None:
    from kenning.toolchain.reproduce.rerun import _fresh_workspace
    from kenning.utils.errors import ConfigurationError

    mine = _fresh_workspace(tmp_path / "again")
    (mine / "old.json").write_text("{}")
    assert list(_fresh_workspace(mine).iterdir()) == [mine / ".kenning-reproduce"]
    theirs = tmp_path / "build"
    theirs.mkdir()
    (theirs / "model.pth").write_text("precious")
    with pytest.raises(ConfigurationError, match="not made by `invoke reproduce`"):
        _fresh_workspace(theirs)
    assert (theirs / "model.pth").read_text() == "precious"

"""The `kenning` command, as installed by `pip install -e .` (the console script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

KENNING = Path(sys.executable).parent / "kenning"


def kenning(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KENNING), *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)  # fmt: skip


def test_help_lists_the_subcommands() -> None:
    done = kenning("--help")
    assert done.returncode == 0
    for command in ("list", "run", "report", "boards", "completion"):
        assert command in done.stdout


def test_list_prints_short_names_by_family() -> None:
    done = kenning("list")
    assert done.returncode == 0
    assert "runtime:" in done.stdout and "compiler:" in done.stdout
    assert "tvm                    kenning.runtimes.tvm.TVMRuntime" in done.stdout
    only = kenning("list", "dataset")
    assert "digits" in only.stdout and "runtime:" not in only.stdout


def test_run_passes_through_to_the_scenario_and_unknown_ones_are_one_error() -> None:
    done = kenning("run", "inference_server", "network", "null", "-h")
    assert done.returncode == 0 and "--idle-timeout" in done.stdout
    bad = kenning("run", "no_such_scenario")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().startswith("error: unknown scenario 'no_such_scenario'")


def test_run_takes_a_scenario_file_and_checks_it_whole(tmp_path: Path) -> None:
    # `kenning run scenarios/digits.yaml` is `invoke demo`; --check runs nothing
    done = kenning("run", "scenarios/digits.yaml", "--check")
    assert done.returncode == 0, done.stderr
    assert "torch-tvm: export [train-torch] -> compile [compile-tvm]; runtime tvm" in done.stdout
    assert "== scenarios/digits.yaml: 6 deployments can work" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: {wrapper: torch-digits-cnn, train: {epochs: 0}}\n"
                   "dataset: {class: digits}\ndeployments: {x: {runtime: tvm}}\n")  # fmt: skip
    done = kenning("run", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{bad}:2: key 'model.train.epochs': 0: input should be greater than or equal to 1" in (
        done.stderr
    )


def test_report_renders_a_results_file(tmp_path: Path) -> None:
    from test_core_results import make_results

    from kenning.core.results import write_atomically
    from kenning.datasets.digits import DigitsDataset

    results = tmp_path / "r.json"
    write_atomically(results, make_results(DigitsDataset(None)).dump())
    out = tmp_path / "report.md"
    done = kenning("report", str(results), "Empty run", str(out), "--format", "md")
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("# Empty run")


def test_completion_is_a_bash_script() -> None:
    done = kenning("completion")
    script = done.stdout
    assert done.returncode == 0 and "complete -F _kenning kenning" in script
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_a_scenario_gets_every_bad_setting_its_bounds_and_no_booleans_for_numbers(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nmodel: {wrapper: torch-digits-cnn, train: {epochs: true, batch-size: 2}}\n"
        "dataset: {class: digits}\ndeployments: {x: {runtime: onnxruntime, chain: [onnx]}}\n"
    )
    done = kenning("run", str(bad), "--check")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{bad}:2: key 'model.train.epochs': True: input should be a valid integer" in (
        done.stderr
    )
    bad.write_text(
        "name: bad\nmodel: {wrapper: torch-digits-cnn, train: {epochs: 2}}\n"
        "dataset: {class: digits}\ndeployments: {x: {runtime: onnxruntime, chain: [onnx]}}\n"
        "measure: {min-samples: 1000000000000000000000000000000, warmup: true,\n"
        "          min-duration: 100000.5, bogus: 1}\n"
    )
    done = kenning("run", str(bad), "--check")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    text = done.stderr
    assert "key 'measure.bogus': unknown key" in text, text
    assert "--min-samples 1000000000000000000000000000000: input should be less than or " \
        "equal to 10000000" in text, text  # fmt: skip
    assert "--warmup True: input should be a valid integer" in text, text
    assert "--min-duration 100000.5: input should be less than or equal to 86400" in text


def test_a_measurement_flag_beyond_its_maximum_is_one_error(tmp_path: Path) -> None:
    from conftest import run_kenning

    done = run_kenning(["kenning.scenarios.inference_tester", "onnx-model", "onnx",
                        "onnxruntime", "digits", tmp_path / "r.json", "--model-path",
                        tmp_path / "m.onnx", "--compiled-model-path", tmp_path / "c.onnx",
                        "--min-samples", "1000000000000",
                        "--warmup", "2000000"], timeout=120)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(
        "error: --warmup 2000000: input should be less than or equal to 1000000"
    )
    assert not (tmp_path / "r.json").exists()
    assert "--min-samples 1000000000000: input should be less than or equal to 10000000" in line


def test_a_scenario_name_too_long_for_a_folder_is_refused_at_check(tmp_path: Path) -> None:
    bad = tmp_path / "long.yaml"
    bad.write_text(
        f"name: {'a' * 1000}\nmodel: {{wrapper: torch-digits-cnn, train: {{epochs: 2}}}}\n"
        "dataset: {class: digits}\ndeployments: {x: {runtime: onnxruntime, chain: [onnx]}}\n"
    )
    done = kenning("run", str(bad), "--check")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad}:1: key 'name': 'aaaa"), line
    assert "(1,000 characters): string should have at most 100 characters" in line, line
    assert len(line) < 300

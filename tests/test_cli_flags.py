"""Flags are taken only as written, and a secret given on the command line is never echoed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, run_kenning

SECRET = "5ecre7c0ffee5ecre7c0ffee5ecre7c0"


def _tester(tmp_path: Path, *extra: str | Path) -> list[str | Path]:
    return ["kenning.scenarios.inference_tester", "onnx-model", "onnx", "onnxruntime", "digits",
            tmp_path / "r.json", "--model-path", tmp_path / "m.onnx", "--compiled-model-path",
            tmp_path / "c.onnx", "--protocol-cls", "network", "--port", "9", *extra]  # fmt: skip


@pytest.mark.parametrize(
    "words",
    [
        ["--secret", SECRET],
        [f"--secret={SECRET}"],
        ["--secret-fil", SECRET],
        ["--secretfile", SECRET],
    ],
)
def test_a_secret_on_the_command_line_is_refused_and_never_echoed(
    tmp_path: Path, words: list[str]
) -> None:
    done = run_kenning(_tester(tmp_path, *words), timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert "unrecognized arguments: " in done.stderr and "(value not shown)" in done.stderr
    assert "--secret-file PATH" in done.stderr


def test_the_server_never_echoes_a_secret_either() -> None:
    done = run_kenning(["kenning.scenarios.inference_server", "network", "null", "--secret",
                        SECRET], timeout=60)  # fmt: skip
    assert done.returncode == 2 and SECRET not in done.stderr + done.stdout, done.stderr


def test_an_abbreviated_flag_is_not_taken_for_the_whole(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    results.write_text("{}")
    done = run_kenning(["kenning.scenarios.render_report", results, "T", tmp_path / "o.md",
                        "--form", "md"], timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "unrecognized arguments: --form md" in done.stderr, done.stderr


def test_every_parser_kenning_makes_takes_no_abbreviations() -> None:
    found = []
    for path in sorted((ROOT / "kenning").rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"argparse\.ArgumentParser\(([^()]|\([^()]*\))*\)", text):
            if "allow_abbrev=False" not in match.group(0) and path.name != "argparser.py":
                found.append(f"{path.relative_to(ROOT)}: {match.group(0)[:60]}")
    assert not found, "use kenning.utils.argparser.ArgumentParser: " + "; ".join(found)

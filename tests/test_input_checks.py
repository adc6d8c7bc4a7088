"""Bad input is one `error:` line before any work, and never replaces an existing file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TORCH_CNN, run_kenning

from kenning.runtimeprotocols.errors import RemoteError


def _one_error(done) -> str:  # type: ignore[no-untyped-def]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--num-epochs", "0", "0 is not a whole number >= 1"),
        ("--learning-rate", "nan", "nan is not a finite number > 0"),
        ("--learning-rate", "1e400", "1e400 is not a finite number > 0"),
        ("--batch-size", "-1", "-1 is not a whole number >= 1"),
    ],
)
def test_training_flags_are_range_checked_before_training(
    tmp_path: Path, flag: str, value: str, says: str
) -> None:
    model = tmp_path / "m.pth"
    model.write_bytes(b"the earlier model")
    done = run_kenning(["kenning.scenarios.model_training", TORCH_CNN, "digits",
                        "--model-path", model, flag, value], timeout=120)  # fmt: skip
    assert says in _one_error(done)
    assert model.read_bytes() == b"the earlier model"


def test_a_negative_split_seed_is_one_error(tmp_path: Path) -> None:
    done = run_kenning(["kenning.scenarios.inference_performance", TORCH_CNN, "digits",
                        tmp_path / "r.json", "--model-path", tmp_path / "m.pth",
                        "--split-seed", "-1"], timeout=120)  # fmt: skip
    assert "--split-seed must be >= 0" in _one_error(done)


def test_a_port_out_of_range_is_one_error(tmp_path: Path) -> None:
    done = run_kenning(["kenning.scenarios.inference_server", "network", "null",
                        "--port", "70000"], timeout=60)  # fmt: skip
    assert "--port 70000 is not a TCP port (0-65535)" in _one_error(done)


def test_a_report_never_replaces_its_results(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    results.write_text('{"precious": true}')
    done = run_kenning(["kenning.scenarios.render_report", results, "T", results], timeout=60)
    assert "would replace the results file" in _one_error(done)
    assert results.read_text() == '{"precious": true}'


@pytest.mark.parametrize("second", [False, True])
def test_a_report_never_replaces_the_outputs_beside_its_results(
    tmp_path: Path, second: bool
) -> None:
    results = tmp_path / "r.json"
    results.write_text('{"precious": true}')
    outputs = tmp_path / "r.outputs.npz"
    outputs.write_bytes(b"the outputs")
    inputs = [tmp_path / "other.json", results] if second else [results]
    done = run_kenning(["kenning.scenarios.render_report", *inputs, "T", outputs], timeout=60)
    line = _one_error(done)
    assert f"would replace the outputs file {outputs} of the results {results}" in line, line
    assert "choose another output path" in line
    assert outputs.read_bytes() == b"the outputs" and results.read_text() == '{"precious": true}'


def test_text_from_a_target_is_sanitised() -> None:
    error = RemoteError("MODEL", "bad\x1b[2J\x07 model\nsecond line")
    assert "\x1b" not in str(error) and "\x07" not in str(error) and "\n" not in str(error)
    assert "bad\\x1b[2J\\x07 model\\x0asecond line" in str(error)


def test_a_model_path_the_wrapper_cannot_save_is_refused_before_training(tmp_path: Path) -> None:
    done = run_kenning(["kenning.scenarios.model_training", "tf-digits-cnn", "digits",
                        "--model-path", tmp_path / "m.pth", "--num-epochs", "50"],
                       timeout=120)  # fmt: skip
    assert "saves .keras or .h5 files, not" in _one_error(done)


@pytest.mark.slow
def test_a_diverging_training_keeps_the_earlier_model(tmp_path: Path) -> None:
    model = tmp_path / "m.pth"
    model.write_bytes(b"the earlier model")
    done = run_kenning(["kenning.scenarios.model_training", TORCH_CNN, "digits",
                        "--model-path", model, "--learning-rate", "1e30", "--num-epochs", "1"],
                       timeout=300)  # fmt: skip
    assert "training diverged" in _one_error(done)
    assert model.read_bytes() == b"the earlier model"
    assert not list(tmp_path.glob(".m.partial*"))


def test_a_model_that_fails_to_load_leaves_the_earlier_results(tmp_path: Path) -> None:
    from kenning.core.iospec import IOSpec, TensorSpec

    results = tmp_path / "r.json"
    results.write_text('{"precious": true}')
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(bytes(range(256)))
    IOSpec(inputs=[TensorSpec(name="x", shape=[-1, 8, 8, 1], dtype="float32")],
           outputs=[TensorSpec(name="y", shape=[-1, 10], dtype="float32")]).save(bad)  # fmt: skip
    done = run_kenning(["kenning.scenarios.inference_performance", "onnx-model", "digits",
                        results, "--model-path", bad], timeout=120)  # fmt: skip
    line = _one_error(done)
    assert "inference failed during warm-up" in line and "left as it was" in line
    assert results.read_text() == '{"precious": true}'

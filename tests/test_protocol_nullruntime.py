"""NullRuntime, the runtime test double the protocol tests and benchmarks serve with."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from conftest_protocol import SPEC

from kenning.core.registry import load_class
from kenning.runtimes.null import NullRuntime
from kenning.utils.errors import ConfigurationError, ModelError


def loaded(tmp_path: Path, inference_time: float = 0.0) -> NullRuntime:
    model = tmp_path / "model.bin"
    model.write_bytes(b"anything")
    SPEC.save(model)
    runtime = NullRuntime(tmp_path / "saved.bin", inference_time=inference_time)
    runtime.load_model(model)
    return runtime


def test_outputs_are_zeros_shaped_by_the_spec_per_batch(tmp_path: Path) -> None:
    runtime = loaded(tmp_path)
    outputs = runtime.infer([np.ones((3, 16), np.float32)])
    assert len(outputs) == 1 and outputs[0].shape == (3, 10)
    assert not outputs[0].any()
    runtime.prepare_input(bytes(64))
    runtime.run()
    assert runtime.upload_output() == bytes(40)


def test_inputs_must_be_whole_samples_and_steps_in_order(tmp_path: Path) -> None:
    runtime = loaded(tmp_path)
    with pytest.raises(ConfigurationError, match="no input"):
        runtime.run()
    with pytest.raises(ConfigurationError, match="not a whole number of 64-byte samples"):
        runtime.prepare_input(bytes(65))
    runtime.prepare_input(bytes(128))
    with pytest.raises(ConfigurationError, match="nothing has run"):
        runtime.upload_output()


def test_model_without_a_spec_does_not_load(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"x")
    with pytest.raises(ModelError, match="no I/O specification"):
        NullRuntime(tmp_path / "saved.bin").load_model(model)
    with pytest.raises(ModelError, match="does not exist"):
        NullRuntime(tmp_path / "saved.bin").load_model(tmp_path / "missing.bin")


def test_prepare_model_stores_the_bytes_it_is_sent(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    SPEC.save(tmp_path / "target" / "m.bin")
    runtime = NullRuntime(tmp_path / "target" / "m.bin")
    runtime.prepare_model(b"model bytes")
    assert (tmp_path / "target" / "m.bin").read_bytes() == b"model bytes"
    assert runtime.io_spec == SPEC


def test_inference_time_is_spent_in_run(tmp_path: Path) -> None:
    runtime = loaded(tmp_path, inference_time=0.05)
    runtime.prepare_input(bytes(64))
    start = time.perf_counter()
    runtime.run()
    assert time.perf_counter() - start >= 0.05


def test_short_names_resolve() -> None:
    assert load_class("null", "runtime") is NullRuntime
    assert load_class("network", "protocol").__name__ == "NetworkProtocol"
    assert load_class("serial", "protocol").__name__ == "SerialProtocol"

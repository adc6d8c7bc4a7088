from pathlib import Path

import numpy as np
import pytest

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.utils.errors import ConfigurationError, ModelError


def spec(quantized: bool = False) -> IOSpec:
    q = {"scale": 0.5, "zero_point": -3} if quantized else {}
    dtype = "int8" if quantized else "float32"
    return IOSpec(
        inputs=[TensorSpec(name="x", shape=[-1, 2, 3], dtype=dtype, **q)],
        outputs=[TensorSpec(name="y", shape=[-1, 4], dtype=dtype, **q)],
    )


def test_float_round_trip_resolves_batch() -> None:
    x = np.random.default_rng(0).random((5, 2, 3), dtype=np.float32)
    s = spec()
    data = s.inputs_to_bytes([x])
    assert len(data) == x.nbytes
    (back,) = s.inputs_from_bytes(data)
    assert back.shape == (5, 2, 3) and np.array_equal(back, x)


def test_quantized_round_trip_within_half_a_step() -> None:
    s = spec(quantized=True)
    y = np.array([[-1.0, 0.0, 1.25, 10.0]], dtype=np.float32)
    stored = s.outputs[0].quantize(y)
    assert stored.dtype == np.int8 and stored.tolist() == [[-5, -3, -1, 17]]  # 2.5 rounds to even
    (back,) = s.outputs_from_bytes(s.outputs_to_bytes([stored]))
    assert back.dtype == np.float32
    assert np.allclose(back, y, atol=0.25)


def test_saturation_at_dtype_limits() -> None:
    t = TensorSpec(name="t", shape=[-1, 2], dtype="int8", scale=1.0, zero_point=0)
    assert t.quantize(np.array([[1000.0, -1000.0]])).tolist() == [[127, -128]]


def test_wrong_byte_count_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="not a whole number of samples of 24 bytes"):
        spec().inputs_from_bytes(b"\x00" * 25)


def test_save_and_load_beside_model(tmp_path: Path) -> None:
    model = tmp_path / "m.tflite"
    spec(True).save(model)
    assert (tmp_path / "m.tflite.iospec.json").is_file()
    assert IOSpec.load(model) == spec(True)
    with pytest.raises(ModelError, match="no I/O specification"):
        IOSpec.load(tmp_path / "other.onnx")

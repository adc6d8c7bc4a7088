"""TensorFlowPetDatasetMobileNetV2 on the Pet fixture: build, save/load, pretrained base, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pet_fixture import PetFixture, pet_tree_fixture  # noqa: F401

from kenning.datasets.pet_dataset import PetDataset
from kenning.modelwrappers.classification.tensorflow_pet_dataset import (
    TensorFlowPetDatasetMobileNetV2 as Wrapper,
)
from kenning.modelwrappers.frameworks.tensorflow import keras
from kenning.utils.errors import ModelError

MODEL = (
    "kenning.modelwrappers.classification.tensorflow_pet_dataset.TensorFlowPetDatasetMobileNetV2"
)
DATASET = "kenning.datasets.pet_dataset.PetDataset"
SIZE = 32


@pytest.fixture(scope="module")
def dataset(pet_tree: PetFixture) -> PetDataset:
    return PetDataset(pet_tree.root, image_size=SIZE, batch_size=4)


@pytest.fixture(scope="module")
def built(dataset: PetDataset, tmp_path_factory: pytest.TempPathFactory) -> Wrapper:
    wrapper = Wrapper(tmp_path_factory.mktemp("m") / "m.h5", dataset, from_file=False)
    wrapper.prepare_model()
    return wrapper


def _base(model: Any) -> Any:
    return model.get_layer("mobilenetv2_base")


@pytest.fixture(scope="module")
def base_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Any]]:
    """A no-top base with its own random weights, saved in both Keras weights formats."""
    k = keras()
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    k.utils.set_random_seed(7)
    base = k.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), include_top=False, weights=None)
    folder = tmp_path_factory.mktemp("weights")
    # The layout of the file Keras downloads (legacy HDF5 weights, layer_names attribute).
    import h5py

    legacy = folder / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    with h5py.File(legacy, "w") as f:
        save_weights_to_hdf5_group(f, base)
    current = folder / "base.weights.h5"
    base.save_weights(current)
    return legacy, current, base.get_weights()


def test_build(built: Wrapper, dataset: PetDataset) -> None:
    model = built.model
    assert tuple(model.inputs[0].shape) == (None, SIZE, SIZE, 3)
    assert tuple(model.outputs[0].shape) == (None, dataset.num_classes)
    assert _base(model).trainable  # no pretrained weights: the whole network trains
    spec = built.get_io_specification()
    assert spec.inputs[0].shape == [-1, SIZE, SIZE, 3] and spec.outputs[0].shape == [-1, 4]
    x, _ = dataset.load_subset("validation")
    probs = built.infer(x)
    assert probs.shape == (8, 4) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_preprocessing_maps_to_minus_one_one(built: Wrapper) -> None:
    out = built.preprocess_input(np.array([0.0, 0.5, 1.0], dtype=np.float32))
    assert out.dtype == np.float32 and np.allclose(out, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_save_load_round_trip(
    built: Wrapper, dataset: PetDataset, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"model{suffix}"
    built.save_model(path)
    loaded = Wrapper(path, dataset)
    loaded.prepare_model()
    for a, b in zip(built.model.get_weights(), loaded.model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    x, _ = dataset.load_subset("validation")
    assert np.allclose(built.infer(x), loaded.infer(x), atol=1e-6)


@pytest.mark.parametrize("fmt", ["legacy", "current"])
def test_pretrained_weights_are_loaded_and_frozen(
    dataset: PetDataset,
    base_weights: tuple[Path, Path, list[Any]],
    tmp_path: Path,
    fmt: str,
) -> None:
    legacy, current, expected = base_weights
    wrapper = Wrapper(
        tmp_path / "m.h5",
        dataset,
        from_file=False,
        pretrained_weights=legacy if fmt == "legacy" else current,
    )
    wrapper.prepare_model()
    base = _base(wrapper.model)
    got = base.get_weights()
    assert len(got) == len(expected) == 260  # 52 conv/depthwise kernels, 52 BN x 4
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a, b)
    assert not base.trainable
    # only the classifier trains: Dense kernel and bias
    assert [w.path for w in wrapper.model.trainable_weights] == ["output/kernel", "output/bias"]


def test_bad_pretrained_weights(dataset: PetDataset, tmp_path: Path) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(os.urandom(4096))
    other = tmp_path / "other.weights.h5"
    k = keras()
    k.Sequential([k.Input((4,)), k.layers.Dense(2)]).save_weights(other)
    for path, pattern in (
        (junk, "does not hold no-top MobileNetV2"),
        (other, "does not hold no-top MobileNetV2"),
        (tmp_path / "absent.h5", "does not exist"),
        (tmp_path / "w.pth", "does not exist"),
    ):
        wrapper = Wrapper(tmp_path / "m.h5", dataset, from_file=False, pretrained_weights=path)
        with pytest.raises(ModelError, match=pattern):
            wrapper.prepare_model()


# -- command line (subprocesses) --------------------------------------------------------
def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, check=False
    )


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("kind", ["torch.pth", "random.h5"])
def test_wrong_model_file_is_one_error_line(
    pet_tree: PetFixture, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / kind
    if kind == "torch.pth":
        import torch

        torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    else:
        path.write_bytes(os.urandom(2048))
    result = _run(
        "kenning.scenarios.inference_performance", MODEL, DATASET, str(tmp_path / "r.json"),
        "--model-path", str(path), "--dataset-root", str(pet_tree.root), "--image-size", "32",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and str(path) in errors[0], result.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_train_one_epoch_on_a_pretrained_base_then_benchmark(
    pet_tree: PetFixture, base_weights: tuple[Path, Path, list[Any]], tmp_path: Path
) -> None:
    model = tmp_path / "pet.h5"
    result = _run(
        "kenning.scenarios.model_training", MODEL, DATASET,
        "--dataset-root", str(pet_tree.root), "--image-size", str(SIZE),
        "--model-path", str(model), "--pretrained-weights", str(base_weights[0]),
        "--num-epochs", "1", "--batch-size", "8", "--learning-rate", "0.01",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["model_path"] == str(model) and 0.0 <= metrics["val_accuracy"] <= 1.0
    assert model.is_file()
    k = keras()
    trained = k.models.load_model(model, compile=False)
    assert tuple(trained.outputs[0].shape) == (None, 4)
    # the frozen base kept the pretrained weights through training and saving
    for a, b in zip(_base(trained).get_weights(), base_weights[2], strict=True):
        assert np.array_equal(a, b)
    results = tmp_path / "results.json"
    bench = _run(
        "kenning.scenarios.inference_performance", "tf-pet-mobilenetv2", "pet", str(results),
        "--model-path", str(model), "--dataset-root", str(pet_tree.root),
        "--image-size", str(SIZE),
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    written = json.loads(results.read_text())
    assert written["dataset"]["num_samples"] == 8
    assert written["dataset"]["class_names"] == [
        "Abyssinian",
        "american_bulldog",
        "beagle",
        "Bengal",
    ]


@pytest.mark.slow
def test_trained_from_scratch_the_seeds_command_does_not_predict_one_class(
    pet_tree: PetFixture, tmp_path: Path
) -> None:
    # the seed's command, from scratch: Keras's moving batch-norm statistics (momentum
    # 0.99) barely leave their initial values in 3 short epochs; they are refreshed after
    # training, so the saved model's validation predictions are not all one class
    model = tmp_path / "pet.keras"
    result = _run(
        "kenning.scenarios.model_training", MODEL, DATASET,
        "--dataset-root", str(pet_tree.root), "--image-size", "64", "--model-path", str(model),
        "--num-epochs", "3", "--batch-size", "8",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "has not learned" not in result.stderr
    results = tmp_path / "results.json"
    bench = _run(
        "kenning.scenarios.inference_performance", "tf-pet-mobilenetv2", "pet", str(results),
        "--model-path", str(model), "--dataset-root", str(pet_tree.root), "--image-size", "64",
        "--min-samples", "8", "--percentiles", "50",
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    predicted = {s["predictions"][0] for s in json.loads(results.read_text())["samples"]}
    assert len(predicted) > 1, predicted


def test_training_warns_when_every_validation_prediction_is_one_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kenning.datasets.digits import DigitsDataset
    from kenning.scenarios.model_training import _warn_if_constant

    class Constant:  # a model that has learned nothing: the same scores for every input
        def infer(self, inputs: np.ndarray) -> np.ndarray:
            return np.tile(np.arange(10.0), (len(inputs), 1))

    with caplog.at_level("WARNING", logger="kenning"):
        _warn_if_constant(Constant(), DigitsDataset(None))
    assert "predicts class 9 for every validation sample (10 classes there)" in caplog.text

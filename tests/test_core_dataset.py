import numpy as np
import pytest

from kenning.datasets.digits import DigitsDataset
from kenning.utils.errors import ConfigurationError


def test_digits_shapes_and_range() -> None:
    ds = DigitsDataset(None, batch_size=4)
    assert len(ds) == 1797
    assert ds.num_classes == 10
    assert ds.input_shape() == (8, 8, 1)
    _, x, y = next(ds.iter_batches("all"))
    assert x.shape == (4, 8, 8, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.dtype == np.int64


def test_split_is_disjoint_complete_stratified_and_seeded() -> None:
    ds = DigitsDataset(None, validation_fraction=0.2, split_seed=7)
    train, val = ds.split_indices()
    assert not set(train) & set(val)
    assert len(train) + len(val) == len(ds)
    labels = np.asarray(ds.dataY)
    for cls in range(10):
        share = np.mean(labels[val] == cls) / np.mean(labels == cls)
        assert 0.8 < share < 1.2
    again = DigitsDataset(None, validation_fraction=0.2, split_seed=7).split_indices()[1]
    other = DigitsDataset(None, validation_fraction=0.2, split_seed=8).split_indices()[1]
    assert np.array_equal(val, again)
    assert not np.array_equal(val, other)


def test_batches_cover_subset_once_and_shuffle_is_seeded() -> None:
    ds = DigitsDataset(None, batch_size=64)
    seen = np.concatenate([idx for idx, _, _ in ds.iter_batches("validation")])
    assert np.array_equal(seen, ds.subset_indices("validation"))
    a = np.concatenate([i for i, _, _ in ds.iter_batches("train", shuffle_seed=1)])
    b = np.concatenate([i for i, _, _ in ds.iter_batches("train", shuffle_seed=1)])
    assert np.array_equal(a, b) and not np.array_equal(a, np.sort(a))


def test_evaluate_gives_top5_best_first() -> None:
    ds = DigitsDataset(None)
    scores = np.array([[0.1, 0.5, 0.0, 0.3, 0.05, 0.05, 0, 0, 0, 0]])
    assert ds.evaluate(scores).tolist() == [[1, 3, 0, 4, 5]]


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"validation_fraction": 1.5}])
def test_bad_parameters_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ConfigurationError):
        DigitsDataset(None, **kwargs)

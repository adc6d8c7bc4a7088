import numpy as np
import pytest
from sklearn import metrics as skm

from kenning.core.metrics import classification_metrics, latency_summary


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 6, 400)
    noisy = np.where(rng.random(400) < 0.7, truth, rng.integers(0, 6, 400))
    top = [[int(p), *[c for c in range(6) if c != p][:4]] for p in noisy]
    m = classification_metrics(top, truth, 6)
    assert m.accuracy == pytest.approx(skm.accuracy_score(truth, noisy))
    assert m.precision == pytest.approx(list(skm.precision_score(truth, noisy, average=None)))
    assert m.sensitivity == pytest.approx(list(skm.recall_score(truth, noisy, average=None)))
    assert m.mean_precision == pytest.approx(skm.precision_score(truth, noisy, average="macro"))
    assert m.mean_sensitivity == pytest.approx(skm.recall_score(truth, noisy, average="macro"))
    assert m.confusion_matrix == skm.confusion_matrix(truth, noisy, labels=range(6)).tolist()
    rec = skm.recall_score(truth, noisy, average=None)
    assert m.g_mean == pytest.approx(float(np.prod(rec) ** (1 / 6)))
    expected_top5 = np.mean([t in row[:5] for t, row in zip(truth, top, strict=True)])
    assert m.top5_accuracy == pytest.approx(expected_top5)


def test_absent_classes_do_not_divide_by_zero() -> None:
    m = classification_metrics([[0], [0], [1]], [0, 0, 1], 4)
    assert m.accuracy == 1.0
    assert m.precision == [1.0, 1.0, 0.0, 0.0]
    assert m.mean_sensitivity == 1.0 and m.g_mean == 1.0


def test_latency_percentiles() -> None:
    s = latency_summary([i / 1000 for i in range(1, 101)])
    assert s.count == 100
    assert s.median == pytest.approx(0.0505)
    assert s.p99 == pytest.approx(np.percentile(np.arange(1, 101) / 1000, 99))
    assert s.min == 0.001 and s.max == 0.1
    with pytest.raises(ValueError):
        latency_summary([])

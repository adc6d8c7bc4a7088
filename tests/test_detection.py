"""Detection: the shapes data, the head's codec, mAP by pycocotools and the box agreement."""

from pathlib import Path

import numpy as np
import pytest

from kenning.core.agreement import Agreement, with_boxes
from kenning.core.benchmark import Outcome, run_benchmark
from kenning.core.boxagreement import compare_boxes
from kenning.core.detection import detection_metrics, detection_rows
from kenning.core.measure import MeasureSettings
from kenning.core.recorder import ResultsRecorder
from kenning.core.results import DatasetInfo, HostInfo, ModelInfo, Results
from kenning.datasets.shapes import ShapesDataset
from kenning.modelwrappers.detection.centernet import decode, encode_targets
from kenning.toolchain.run.bench import outputs_agreement
from kenning.utils.errors import ConfigurationError

BOXES = [
    [[4.0, 6.0, 20.0, 30.0, 0.0], [30.0, 30.0, 50.0, 44.0, 2.0]],
    [[10.0, 10.0, 40.0, 26.0, 1.0]],
]


def _found(truth: list, shift: float = 0.0, scale: float = 1.0) -> list:
    """Detections of score 0.9 at the true boxes, moved by ``shift``, scaled about the centre."""
    out = []
    for rows in truth:
        image = []
        for x1, y1, x2, y2, cls in rows:
            cx, cy, w, h = (x1 + x2) / 2 + shift, (y1 + y2) / 2 + shift, x2 - x1, y2 - y1
            w, h = w * scale, h * scale
            image.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, 0.9, cls])
        out.append(image)
    return out


def test_shapes_are_seeded_and_boxed() -> None:
    a, b = ShapesDataset(samples=20), ShapesDataset(samples=20)
    x, y = a.load_subset("all")
    assert x.shape == (20, 64, 64, 1) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    assert np.array_equal(x, b.load_subset("all")[0])
    assert all(1 <= len(boxes) <= 3 and boxes.shape[1] == 5 for boxes in y)
    assert all(((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 4] < 3)).all() for boxes in y)
    train, val = a.split_indices()
    assert len(val) == 5 and not set(train) & set(val)
    assert not np.array_equal(x, ShapesDataset(samples=20, data_seed=1).load_subset("all")[0])
    with pytest.raises(ConfigurationError, match="--max-objects"):
        ShapesDataset(samples=20, max_objects=0)


def test_decoding_the_encoded_targets_gives_the_boxes_back() -> None:
    targets = encode_targets([np.asarray(b) for b in BOXES], 16, 4, 3)
    head = np.concatenate(
        [
            np.where(targets[..., :3] >= 0.999, 6.0, -6.0),  # logits: centres only
            np.log(
                np.clip(targets[..., 3:5], 1e-4, 1 - 1e-4)
                / (1 - np.clip(targets[..., 3:5], 1e-4, 1 - 1e-4))
            ),
            targets[..., 5:7],
        ],
        axis=-1,
    )
    found = decode(head, 4)
    assert found.shape == (2, 16, 6)
    for image, truth in zip(found, BOXES, strict=True):
        rows = detection_rows(image)
        assert len(rows) == len(truth)
        for row in rows:
            match = [t for t in truth if t[4] == row[5]]
            assert match and np.allclose(row[:4], match[0][:4], atol=0.05)


def test_map_is_one_for_the_true_boxes_and_falls_when_they_move() -> None:
    perfect = detection_metrics(_found(BOXES), BOXES, 3)
    assert perfect.map50 == pytest.approx(1.0) and perfect.map50_95 == pytest.approx(1.0)
    assert perfect.objects == 3 and perfect.count == 2
    moved = detection_metrics(_found(BOXES, shift=2.0), BOXES, 3)
    assert moved.map50 == pytest.approx(1.0) and moved.map50_95 < 0.9
    lost = detection_metrics(_found(BOXES, shift=15.0), BOXES, 3)
    assert lost.map50 < 0.1
    wrong_class = [[[*r[:5], (r[5] + 1) % 3] for r in rows] for rows in _found(BOXES)]
    assert detection_metrics(wrong_class, BOXES, 3).map50 == 0.0
    assert detection_metrics([[], []], BOXES, 3).map50 == 0.0
    with pytest.raises(ValueError, match="images"):
        detection_metrics([[]], BOXES, 3)
    with pytest.raises(ValueError, match="rows of"):
        detection_rows(np.zeros((4, 5)))


def test_box_agreement_tells_identical_from_shifted_and_collapsed() -> None:
    reference = dict(enumerate(_found(BOXES)))
    same = compare_boxes(dict(enumerate(_found(BOXES))), reference)
    assert (
        same is not None and same.agrees and same.matched_fraction == 1.0 and same.mean_iou == 1.0
    )
    shifted = compare_boxes(dict(enumerate(_found(BOXES, shift=2.0))), reference)
    assert shifted is not None and not shifted.agrees
    assert shifted.matched_fraction == 1.0 and any("mean IoU" in r for r in shifted.reasons)
    collapsed = compare_boxes(dict(enumerate(_found(BOXES, scale=0.05))), reference)
    assert collapsed is not None and not collapsed.agrees and collapsed.matched == 0
    assert any("of boxes matched" in r for r in collapsed.reasons)
    missing = compare_boxes({0: _found(BOXES)[0][:1], 1: _found(BOXES)[1]}, reference)
    assert missing is not None and missing.matched_fraction == pytest.approx(2 / 3)
    assert not missing.agrees and missing.mean_iou == 1.0
    assert missing.reasons == [
        "detections: 0.6667 of boxes matched (IoU >= 0.5, same class) < 0.98"
    ]
    # int8's tolerances are looser; a scenario's own replace them
    assert compare_boxes(dict(enumerate(_found(BOXES, shift=0.5))), reference, "int8").agrees
    loose = compare_boxes(dict(enumerate(_found(BOXES, shift=2.0))), reference, min_iou=0.5)
    assert loose is not None and loose.agrees
    assert compare_boxes({5: []}, reference) is None
    agreement = with_boxes(Agreement(reference="r", samples=2, agrees=True), shifted)
    assert not agreement.agrees and agreement.reasons == shifted.reasons


def _results(ds: ShapesDataset) -> Results:
    return Results(
        scenario="test",
        command=["pytest"],
        created=ResultsRecorder.now(),
        host=HostInfo.current(),
        frameworks=[],
        model=ModelInfo(wrapper="oracle", path="-", outputs=["head"], scored_output="head"),
        dataset=DatasetInfo(
            cls="shapes",
            subset="validation",
            num_samples=len(ds.subset_indices("validation")),
            class_names=ds.get_class_names(),
            batch_size=ds.batch_size,
            task=ds.task,
        ),
    )


def _oracle(ds: ShapesDataset, shift: float):
    """Detections looked up from the labels (moved by ``shift``); a raw head that is not."""
    lookup = {ds.prepare_input_samples([i]).tobytes(): i for i in range(len(ds))}

    def infer(x: np.ndarray) -> Outcome:
        index = [lookup[s[np.newaxis].tobytes()] for s in x]
        truth = [ds.prepare_output_samples([i])[0].tolist() for i in index]
        rows = np.full((len(x), 16, 6), -1.0, np.float32)
        for n, found in enumerate(_found(truth, shift)):
            rows[n, : len(found)] = found
        head = np.stack([np.full(7, float(i), np.float32) for i in index])
        return Outcome(rows, inference_s=1e-4, tensors=[head])

    return infer


def test_a_deployment_whose_boxes_moved_disagrees_though_its_tensors_match(tmp_path: Path) -> None:
    ds = ShapesDataset(samples=40, batch_size=4)
    settings = MeasureSettings(warmup=0, min_samples=10, percentiles=[50])
    runs = {}
    for name, shift in (("reference", 0.0), ("same", 0.0), ("moved", 3.0)):
        runs[name] = tmp_path / f"{name}.json"
        recorder = ResultsRecorder(runs[name], _results(ds))
        recorder.output_names = ["head"]
        final = run_benchmark(ds, _oracle(ds, shift), recorder, settings)
        assert final.detection is not None and final.detection.count == 10
        if name == "reference":
            assert final.detection.map50 == pytest.approx(1.0)
            assert final.detection.map50_95 == pytest.approx(1.0)
    same = outputs_agreement(runs["same"], runs["reference"], {})
    assert same is not None and same.agrees and same.boxes is not None
    assert same.boxes.matched_fraction == 1.0 and "boxes matched 1.0000" in same.line()
    moved = outputs_agreement(runs["moved"], runs["reference"], {})
    assert moved is not None and moved.outputs[0].agrees  # the raw tensors are the same
    assert not moved.agrees and any(r.startswith("detections: mean IoU") for r in moved.reasons)

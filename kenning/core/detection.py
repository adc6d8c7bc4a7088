"""Detection metrics (mAP) computed by pycocotools from what a results file keeps.

A detection run keeps, per sample, its decoded detections (rows ``x1, y1, x2, y2, score,
class``, pixels) and the true boxes (rows ``x1, y1, x2, y2, class``). :func:`detection_metrics`
hands both to pycocotools' ``COCOeval`` (the COCO evaluation itself, not a re-implementation):
mAP at IoU 0.5 and mAP over IoU 0.5:0.95, over every object size.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from kenning.utils.imports import require


class DetectionMetrics(BaseModel):
    """Quality of a detection run, as COCO evaluates it."""

    count: int = Field(description="images evaluated")
    objects: int = Field(description="true boxes in those images")
    detections: int = Field(description="detections kept in those images")
    map50: float = Field(description="mean average precision at IoU 0.5")
    map50_95: float = Field(description="mean average precision over IoU 0.5:0.05:0.95")
    map75: float = Field(description="mean average precision at IoU 0.75")


def detection_rows(output: np.ndarray) -> list[list[float]]:
    """The detections of one sample's decoded output: its rows whose class is not negative.

    Raises
    ------
    ValueError
        If the output is not rows of six values (``x1, y1, x2, y2, score, class``).
    """
    rows = np.asarray(output, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != 6:
        raise ValueError(
            f"a detection output has rows of x1, y1, x2, y2, score, class; got shape {rows.shape}"
        )
    return [[round(float(v), 4) for v in row] for row in rows if row[5] >= 0]


def _xywh(row: Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in row[:4])
    return [x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1)]


def detection_metrics(
    detections: Sequence[Sequence[Sequence[float]]],
    truth: Sequence[Sequence[Sequence[float]]],
    num_classes: int,
) -> DetectionMetrics:
    """mAP@0.5, mAP@0.5:0.95 and mAP@0.75 of per-image detections against the true boxes.

    Parameters
    ----------
    detections : sequence of sequences of rows
        Per image, rows ``x1, y1, x2, y2, score, class``.
    truth : sequence of sequences of rows
        Per image (the same order), rows ``x1, y1, x2, y2, class``.
    num_classes : int
        Number of classes (class indices 0 to ``num_classes - 1``).

    Raises
    ------
    ValueError
        If the two sequences differ in length or are empty.
    MissingDependencyError
        If pycocotools is not installed.
    """
    if len(detections) != len(truth):
        raise ValueError(f"{len(detections)} images of detections and {len(truth)} of boxes")
    if not truth:
        raise ValueError("no images to compute detection metrics from")
    coco_module = require("pycocotools.coco", "detection")
    cocoeval = require("pycocotools.cocoeval", "detection")
    annotations: list[dict[str, Any]] = []
    for image, rows in enumerate(truth):
        for row in rows:
            box = _xywh(row)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image,
                    "category_id": int(row[4]),
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    results = [
        {"image_id": image, "category_id": int(row[5]), "bbox": _xywh(row), "score": float(row[4])}
        for image, rows in enumerate(detections)
        for row in rows
    ]
    count = sum(len(rows) for rows in detections)
    if not results or not annotations:
        empty = {"map50": 0.0, "map50_95": 0.0, "map75": 0.0}
        return DetectionMetrics(
            count=len(truth), objects=len(annotations), detections=count, **empty
        )
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its progress and table
        ground = coco_module.COCO()
        ground.dataset = {
            "images": [{"id": k} for k in range(len(truth))],
            "annotations": annotations,
            "categories": [{"id": k} for k in range(num_classes)],
        }
        ground.createIndex()
        found = ground.loadRes(results)
        evaluation = cocoeval.COCOeval(ground, found, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [max(0.0, float(s)) for s in evaluation.stats]  # -1: undefined (no such objects)
    return DetectionMetrics(
        count=len(truth),
        objects=len(annotations),
        detections=count,
        map50=stats[1],
        map50_95=stats[0],
        map75=stats[2],
    )

"""The detection section of a report on one run: mAP and how its boxes follow the reference's."""

from __future__ import annotations

from typing import Any

from kenning.core.results import Results
from kenning.reports.document import Table, fixed
from kenning.reports.stats import evaluated


def detection_section(results: Results, caption: str = "") -> dict[str, Any]:
    """mAP@0.5, mAP@0.5:0.95 and mAP@0.75 (pycocotools), and the IoU-matched box agreement."""
    metrics = evaluated(results).detection
    if metrics is None:
        return {"metrics": None}
    summary = Table(f"{caption}Detection metrics", ["Metric", "Value"])
    summary.add("Images", metrics.count)
    summary.add("True boxes", metrics.objects)
    summary.add("Detections", metrics.detections)
    for name, value in (
        ("mAP@0.5", metrics.map50),
        ("mAP@0.5:0.95", metrics.map50_95),
        ("mAP@0.75", metrics.map75),
    ):
        summary.add(name, fixed(value, 4))
    boxes = results.agreement.boxes if results.agreement is not None else None
    agreement = None
    if boxes is not None:
        agreement = Table(f"{caption}Boxes against the reference's", ["Measure", "Value"])
        agreement.add("Samples", boxes.samples)
        counts = f"{boxes.reference_boxes} / {boxes.run_boxes}"
        agreement.add("Reference boxes / this run's", counts)
        matched = f"{boxes.matched_fraction:.4f} (least {boxes.min_matched:g})"
        agreement.add("Matched fraction", matched)
        agreement.add("Mean IoU of matches", f"{boxes.mean_iou:.4f} (least {boxes.min_iou:g})")
        agreement.add("Agrees", "yes" if boxes.agrees else "NO: " + "; ".join(boxes.reasons))
    return {"metrics": metrics, "summary": summary, "agreement": agreement}

"""Box agreement: a detection deployment's decoded boxes against its reference's, IoU-matched.

The tensor comparison of :mod:`kenning.core.outputcheck` says how closely a raw head
follows the reference's; this says whether the *detections* a user gets are the same. Per
sample and per class, the deployment's detections (score at least :data:`MIN_SCORE`) are
matched greedily, best score first, to the reference's at IoU of at least :data:`MATCH_IOU`.
The matched fraction is the matches over the larger of the two detection counts (a missing
box and an extra one both count against it), and the mean IoU is that of the matches. A
deployment **disagrees** when either is below its tolerance (by the deployment's precision,
:data:`BOX_TOLERANCES`, or the scenario's ``box-matched`` / ``box-iou`` of the scored output):
boxes shifted, shrunk, collapsed onto one place or lost all show up here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

#: detections below this score are not compared (the decoder's low-score tail is noise)
MIN_SCORE = 0.3
#: least IoU of a match
MATCH_IOU = 0.5

#: default (least matched fraction, least mean IoU) by the deployment's precision
BOX_TOLERANCES: dict[str, tuple[float, float]] = {
    "float32": (0.98, 0.97),
    "float16": (0.95, 0.93),
    "int8": (0.85, 0.85),
}


class BoxAgreement(BaseModel):
    """How one run's decoded detections follow its reference's."""

    samples: int = Field(description="samples both runs decoded")
    reference_boxes: int = Field(description="reference detections compared (score >= 0.3)")
    run_boxes: int = Field(description="the run's detections compared")
    matched: int = Field(description="pairs matched at IoU >= 0.5, same class")
    matched_fraction: float = Field(description="matched / the larger count, over all samples")
    mean_iou: float = Field(description="mean IoU of the matched pairs (1.0 when none)")
    min_matched: float = Field(description="tolerance: least matched fraction")
    min_iou: float = Field(description="tolerance: least mean IoU")
    agrees: bool
    reasons: list[str] = []

    def line(self) -> str:
        """The measures in one line."""
        return f"boxes matched {self.matched_fraction:.4f}, IoU {self.mean_iou:.4f}"


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``x1, y1, x2, y2`` boxes (0 when either is empty)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match(run: Sequence[Sequence[float]], reference: Sequence[Sequence[float]]) -> list[float]:
    """The IoUs of greedy same-class matches (best run score first) at IoU >= 0.5."""
    taken: set[int] = set()
    ious = []
    for det in sorted(run, key=lambda row: -row[4]):
        best, best_iou = -1, MATCH_IOU
        for k, ref in enumerate(reference):
            if k in taken or int(ref[5]) != int(det[5]):
                continue
            value = iou(det, ref)
            if value >= best_iou:
                best, best_iou = k, value
        if best >= 0:
            taken.add(best)
            ious.append(best_iou)
    return ious


def compare_boxes(
    run: Mapping[int, Sequence[Sequence[float]]],
    reference: Mapping[int, Sequence[Sequence[float]]],
    precision: str = "float32",
    min_matched: float | None = None,
    min_iou: float | None = None,
) -> BoxAgreement | None:
    """Match each sample's detections (rows ``x1, y1, x2, y2, score, class``) to its reference's.

    Parameters
    ----------
    run, reference : Mapping[int, rows]
        Per dataset index, the decoded detections.
    precision : str
        The deployment's precision: picks the default tolerances.
    min_matched, min_iou : float, optional
        Tolerances that replace the defaults.

    Returns
    -------
    BoxAgreement or None
        None when the two runs decoded no sample in common.
    """
    common = sorted(set(run) & set(reference))
    if not common:
        return None
    default = BOX_TOLERANCES.get(precision, BOX_TOLERANCES["float32"])
    least_matched = default[0] if min_matched is None else min_matched
    least_iou = default[1] if min_iou is None else min_iou
    ious: list[float] = []
    run_count = ref_count = larger = 0
    for index in common:
        mine = [row for row in run[index] if row[4] >= MIN_SCORE]
        theirs = [row for row in reference[index] if row[4] >= MIN_SCORE]
        run_count, ref_count = run_count + len(mine), ref_count + len(theirs)
        larger += max(len(mine), len(theirs))
        ious += match(mine, theirs)
    fraction = len(ious) / larger if larger else 1.0
    mean_iou = float(np.mean(ious)) if ious else (1.0 if not larger else 0.0)
    reasons = []
    if fraction < least_matched:
        reasons.append(
            f"detections: {fraction:.4f} of boxes matched (IoU >= {MATCH_IOU:g}, same class) "
            f"< {least_matched:g}"
        )
    if mean_iou < least_iou:
        reasons.append(f"detections: mean IoU of matched boxes {mean_iou:.4f} < {least_iou:g}")
    return BoxAgreement(
        samples=len(common),
        reference_boxes=ref_count,
        run_boxes=run_count,
        matched=len(ious),
        matched_fraction=fraction,
        mean_iou=mean_iou,
        min_matched=least_matched,
        min_iou=least_iou,
        agrees=not reasons,
        reasons=reasons,
    )

"""CenterNet-style heads in numpy: training targets from boxes, and boxes from the head.

The head is one tensor per image, NHWC ``(grid, grid, classes + 4)``: per cell, one
heatmap logit per class (a sigmoid of it is the score that an object's centre lies in the
cell), then the centre's offset inside the cell (two logits, sigmoid) and the box's log
width and height in cells. Decoding keeps each class's local maxima over a 3x3
neighbourhood (the usual NMS-free decoding), best first, as rows
``x1, y1, x2, y2, score, class`` padded to a fixed count with class ``-1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: detections each image's decoding keeps (rows of ``x1, y1, x2, y2, score, class``)
MAX_DETECTIONS = 16
#: the least score a decoded detection keeps
MIN_SCORE = 0.05


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def encode_targets(
    boxes: Sequence[np.ndarray], grid: int, stride: float, classes: int
) -> np.ndarray:
    """Training targets NHWC ``(N, grid, grid, classes + 5)`` for each image's boxes.

    Channels: a Gaussian heatmap per class (1 at the centre cell), the centre's offset in
    its cell (0-1, x then y), log width and height in cells, and a mask that is 1 at centre
    cells (where the box channels are trained).
    """
    out = np.zeros((len(boxes), grid, grid, classes + 5), dtype=np.float32)
    ys, xs = np.mgrid[0:grid, 0:grid].astype(np.float32)
    for n, image_boxes in enumerate(boxes):
        for x1, y1, x2, y2, cls in np.asarray(image_boxes, dtype=np.float32).reshape(-1, 5):
            cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
            w, h = (x2 - x1) / stride, (y2 - y1) / stride
            gx, gy = min(int(cx), grid - 1), min(int(cy), grid - 1)
            sigma = max(0.5, min(w, h) / 6)
            gauss = np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * sigma**2))
            heat = out[n, :, :, int(cls)]
            np.maximum(heat, gauss, out=heat)
            out[n, gy, gx, classes : classes + 5] = [cx - gx, cy - gy, np.log(w), np.log(h), 1]
    return out


def decode(
    head: np.ndarray,
    stride: float,
    max_detections: int = MAX_DETECTIONS,
    min_score: float = MIN_SCORE,
) -> np.ndarray:
    """Detections ``(N, max_detections, 6)`` from NHWC heads ``(N, grid, grid, classes + 4)``.

    Rows are ``x1, y1, x2, y2, score, class`` in pixels, best first; unused rows are zeros
    with class ``-1``.
    """
    head = np.asarray(head, dtype=np.float32)
    n, grid_h, grid_w, channels = head.shape
    classes = channels - 4
    scores = sigmoid(head[..., :classes])
    padded = np.pad(scores, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    peaks = scores * (scores >= windows.max(axis=(-2, -1)))
    out = np.zeros((n, max_detections, 6), dtype=np.float32)
    out[..., 5] = -1.0
    for i in range(n):
        flat = peaks[i].reshape(-1)
        best = np.argsort(-flat, kind="stable")[:max_detections]
        best = best[flat[best] >= min_score]
        gy, gx, cls = np.unravel_index(best, (grid_h, grid_w, classes))
        box = head[i, gy, gx, classes:]
        cx = (gx + sigmoid(box[:, 0])) * stride
        cy = (gy + sigmoid(box[:, 1])) * stride
        w = np.exp(np.clip(box[:, 2], -8.0, 8.0)) * stride
        h = np.exp(np.clip(box[:, 3], -8.0, 8.0)) * stride
        k = len(best)
        out[i, :k] = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, flat[best], cls], 1)
    return out

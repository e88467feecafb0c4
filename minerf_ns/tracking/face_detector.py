"""BlazeFace short-range face detection (mediapipe's ``face_detection_short_range.tflite``) in numpy.

The network sees the frame letterboxed to a 128x128 square in [-1, 1] and regresses, for each of 896 SSD anchors,
a box and six keypoints (right eye, left eye, nose tip, mouth centre, right ear, left ear; "right" is the subject's
right, i.e. the image's left side). Decoding and weighted non-maximum suppression follow mediapipe's graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Float

from minerf_ns.tracking.tflite_model import DETECTOR_MODEL, TfliteModel

MIN_SCORE = 0.5
NMS_IOU = 0.3
SCORE_CLIP = 100.0


@dataclass
class FaceDetection:
    """One detected face in image pixels."""

    box: Float[np.ndarray, " 4"]
    """x_min, y_min, x_max, y_max."""
    keypoints: Float[np.ndarray, "6 2"]
    """Right eye, left eye, nose tip, mouth, right ear, left ear (x, y)."""
    score: float

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))


def ssd_anchors() -> Float[np.ndarray, "896 2"]:
    """Anchor centres (x, y) in [0, 1] of the short-range model: 16x16 cells x 2, then 8x8 cells x 6."""
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=-1)
        centres.append(np.repeat(cell, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[tuple]:
    """Mediapipe's weighted NMS: overlapping boxes are averaged by score; returns (box, keypoints, score)."""
    order = np.argsort(-scores)
    out = []
    while order.size:
        overlap = _iou(boxes[order[0]], boxes[order]) > NMS_IOU
        members = order[overlap]
        weights = scores[members][:, None]
        out.append(
            (
                (boxes[members] * weights).sum(0) / weights.sum(),
                (keypoints[members] * weights[:, :, None]).sum(0) / weights.sum(),
                float(scores[order[0]]),
            )
        )
        order = order[~overlap]
    return out


class FaceDetector:
    """Finds faces in an RGB frame; ``largest`` picks the one to track."""

    def __init__(self) -> None:
        self._model = TfliteModel(DETECTOR_MODEL)
        self._anchors = ssd_anchors()

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All faces in a uint8 RGB frame [H, W, 3], highest score first."""
        height, width = rgb.shape[:2]
        side = max(height, width)
        pad_x, pad_y = (side - width) / 2.0, (side - height) / 2.0
        square = cv2.copyMakeBorder(
            rgb, int(pad_y), side - height - int(pad_y), int(pad_x), side - width - int(pad_x), cv2.BORDER_CONSTANT
        )
        size = self._model.input_size
        net_in = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0
        regress, logits = self._model(net_in)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0].astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
        keep = scores >= MIN_SCORE
        if not keep.any():
            return []
        raw, anchors = regress[keep] / size, self._anchors[keep]
        centre = raw[:, :2] + anchors
        half = raw[:, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=-1)
        keypoints = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None]
        found = []
        for box, kps, score in weighted_nms(boxes, keypoints, scores[keep]):
            box = box * side - np.array([int(pad_x), int(pad_y)] * 2)
            kps = kps * side - np.array([int(pad_x), int(pad_y)])
            found.append(FaceDetection(box=box.astype(np.float32), keypoints=kps.astype(np.float32), score=score))
        return found


def largest(detections: list[FaceDetection]) -> FaceDetection | None:
    """The detection with the largest box (the speaker when several faces are seen), or None."""
    return max(detections, key=lambda d: d.area) if detections else None

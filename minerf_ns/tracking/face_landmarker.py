"""FaceMesh's 468 landmarks on a rotated face crop, tracked from frame to frame as mediapipe does.

The crop (region of interest) is a square around the face, rotated so the eyes are level, 1.5x the face size: from
a detection on the first frame and whenever tracking is lost, otherwise from the previous frame's landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Float

from minerf_ns.tracking.face_detector import FaceDetection, FaceDetector, largest
from minerf_ns.tracking.tflite_model import LANDMARK_MODEL, TfliteModel

NUM_LANDMARKS = 468
ROI_SCALE = 1.5
MIN_PRESENCE = 0.5
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""FaceMesh landmarks that set the crop's rotation when tracking (subject's right/left eye, outer corners)."""
UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
"""FaceMesh's inner-lip midpoints (the lip gap)."""


@dataclass
class FaceRoi:
    """A rotated square crop: centre (x, y), side length in pixels, rotation in radians."""

    centre: Float[np.ndarray, " 2"]
    side: float
    angle: float

    def crop_to_image(self, size: int) -> Float[np.ndarray, "2 3"]:
        """Affine map from crop pixel coordinates (``size`` square) to image pixel coordinates."""
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        scale = self.side / size
        rot = np.array([[cos, -sin], [sin, cos]]) * scale
        offset = self.centre - rot @ np.array([size / 2.0, size / 2.0])
        return np.concatenate([rot, offset[:, None]], axis=1)


def _angle(start: np.ndarray, end: np.ndarray) -> float:
    """Rotation that makes the line start -> end horizontal (mediapipe's target angle 0)."""
    return float(np.arctan2(end[1] - start[1], end[0] - start[0]))


def roi_from_detection(detection: FaceDetection) -> FaceRoi:
    """Crop around a detection, rotated by its eye line."""
    box = detection.box
    centre = np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
    side = max(box[2] - box[0], box[3] - box[1]) * ROI_SCALE
    return FaceRoi(centre=centre, side=float(side), angle=_angle(detection.keypoints[0], detection.keypoints[1]))


def roi_from_landmarks(landmarks: Float[np.ndarray, "468 2"]) -> FaceRoi:
    """Crop around the previous frame's landmarks, rotated by their eye line."""
    angle = _angle(landmarks[RIGHT_EYE_OUTER], landmarks[LEFT_EYE_OUTER])
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.array([[cos, sin], [-sin, cos]])  # image -> upright frame
    upright = landmarks @ rot.T
    lo, hi = upright.min(0), upright.max(0)
    centre = rot.T @ ((lo + hi) / 2.0)
    return FaceRoi(centre=centre, side=float(max(hi - lo) * ROI_SCALE), angle=angle)


@dataclass
class LandmarkResult:
    """Landmarks of one frame in image pixels, with the network's face-presence probability."""

    points: Float[np.ndarray, "468 3"]
    """x, y in image pixels; z relative depth in the same pixel scale (smaller = nearer the camera)."""
    presence: float


class FaceLandmarker:
    """Runs the FaceMesh landmark network on a crop and tracks the crop through a video."""

    def __init__(self) -> None:
        self._model = TfliteModel(LANDMARK_MODEL)
        self._detector: FaceDetector | None = None
        self._roi: FaceRoi | None = None
        self.detector_calls = 0

    @property
    def detector(self) -> FaceDetector:
        """The face detector, built on first use."""
        if self._detector is None:
            self._detector = FaceDetector()
        return self._detector

    def landmarks_in(self, rgb: np.ndarray, roi: FaceRoi) -> LandmarkResult:
        """Landmarks of the face inside ``roi`` of a uint8 RGB frame."""
        size = self._model.input_size
        crop_to_image = roi.crop_to_image(size)
        image_to_crop = cv2.invertAffineTransform(crop_to_image)
        crop = cv2.warpAffine(rgb, image_to_crop, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        raw, flag = self._model(crop.astype(np.float32) / 255.0)
        points = raw.reshape(NUM_LANDMARKS, 3).astype(np.float64)
        xy = points[:, :2] @ crop_to_image[:, :2].T + crop_to_image[:, 2]
        z = points[:, 2] * roi.side / size
        presence = float(1.0 / (1.0 + np.exp(-np.clip(float(flag.ravel()[0]), -80, 80))))
        return LandmarkResult(points=np.concatenate([xy, z[:, None]], axis=1), presence=presence)

    def reset(self) -> None:
        """Forget the tracked face: the next frame runs the detector (a new clip, or a cut)."""
        self._roi = None

    def track(self, rgb: np.ndarray) -> LandmarkResult | None:
        """Landmarks of the tracked face in the next frame, or None when no face is found."""
        if self._roi is not None:
            result = self.landmarks_in(rgb, self._roi)
            if result.presence >= MIN_PRESENCE:
                self._roi = roi_from_landmarks(result.points[:, :2])
                return result
        self.detector_calls += 1
        detection = largest(self.detector.detect(rgb))
        if detection is None:
            self._roi = None
            return None
        result = self.landmarks_in(rgb, roi_from_detection(detection))
        if result.presence < MIN_PRESENCE:
            self._roi = None
            return None
        self._roi = roi_from_landmarks(result.points[:, :2])
        return result


def lip_gap(points: Float[np.ndarray, "468 3"]) -> float:
    """How far the lips are apart in a frame's landmarks: the inner-lip midpoints' distance in eye distances (outer
    corners), so that it reads the same at any face size; about 0 with the lips closed, 0.3-0.5 wide open."""
    eyes = np.linalg.norm(points[RIGHT_EYE_OUTER, :2] - points[LEFT_EYE_OUTER, :2])
    return float(np.linalg.norm(points[UPPER_INNER_LIP, :2] - points[LOWER_INNER_LIP, :2]) / max(eyes, 1e-6))


def still_lip_gap(landmarker: FaceLandmarker, rgb: np.ndarray) -> float:
    """``lip_gap`` of a single image (not a frame of a tracked video), NaN where no face is found: the detector's crop,
    then the crop of its landmarks (a tighter one, as tracking a video would give)."""
    landmarker.reset()
    result = landmarker.track(rgb)
    result = landmarker.track(rgb) if result is not None else None
    return float("nan") if result is None else lip_gap(result.points)

"""Tracking errors against the exact ground truth of a ``minerf-synth`` identity (pure numpy; used by the benchmark
and the tests)."""

from __future__ import annotations

import numpy as np

from minerf_ns.face.head_model import load_head_model
from minerf_ns.head_pose import euler_to_rotation
from minerf_ns.tracking.face_orientation import (
    face_orientation,
    landmark_region_orientation,
    rigid_free_identity,
    rotation_error_deg,
)
from minerf_ns.tracking.landmark_map import load_landmark_map


def tracking_errors(params: dict, truth: dict) -> dict:
    """Errors of one tracked video.

    Args:
        params: the tracker's ``track_params.pt`` as numpy arrays (``exp``, ``euler``, ``trans``, ``id``,
            ``frame_ids``).
        truth: the identity's entry of the synthetic dataset's ``_ground_truth/meta.json``.

    Returns:
        rotation (degrees, face orientation, see ``face_orientation``), its part after removing the video's mean
        offset, translation (mm), every expression and jawOpen mean absolute error, and jawOpen correlation; and, as
        diagnostics, the rotation error of only the landmark-covered part of the face, and the true identity's own
        tilt of its whole face region against that part (which no landmark can show).
    """
    model = load_head_model()
    rows = np.asarray(params["frame_ids"])
    true_pose = euler_to_rotation(np.asarray(truth["euler"])[rows])
    true_rot = face_orientation(model, true_pose, np.asarray(truth["shape"]))
    fit_rot = euler_to_rotation(np.asarray(params["euler"]))
    rot_err = rotation_error_deg(fit_rot, true_rot)
    offset = fit_rot @ np.swapaxes(true_rot, -1, -2)
    u, _, vt = np.linalg.svd(offset.mean(0))
    mean_offset = u @ vt
    relative = rotation_error_deg(np.swapaxes(mean_offset, -1, -2) @ fit_rot, true_rot)
    points = load_landmark_map().points
    true_lm = landmark_region_orientation(model, points, true_pose, np.asarray(truth["shape"]), model.id_delta)
    fit_id = np.asarray(params["id"])[0]
    fit_lm = landmark_region_orientation(model, points, fit_rot, fit_id, rigid_free_identity(model))
    trans = np.linalg.norm(np.asarray(params["trans"]) / 10.0 - np.asarray(truth["translation"])[rows], axis=-1)
    true_exp = np.asarray(truth["expressions"])[rows]
    exp = np.asarray(params["exp"])
    jaw = model.expression_index("jawOpen")
    return {
        "rotation_deg_mean": float(rot_err.mean()),
        "rotation_deg_max": float(rot_err.max()),
        "rotation_offset_removed_deg_mean": float(relative.mean()),
        "rotation_landmark_region_deg_mean": float(rotation_error_deg(fit_lm, true_lm).mean()),
        "face_tilt_beyond_landmarks_deg": float(rotation_error_deg(true_lm[:1], true_rot[:1])[0]),
        "translation_mm_mean": float(1000.0 * trans.mean()),
        "expression_mae": float(np.abs(exp - true_exp).mean()),
        "jaw_open_mae": float(np.abs(exp[:, jaw] - true_exp[:, jaw]).mean()),
        "jaw_open_correlation": float(np.corrcoef(exp[:, jaw], true_exp[:, jaw])[0, 1]),
    }


def head_mask_iou(tracked_parsing: np.ndarray, true_parsing: np.ndarray) -> float:
    """Intersection over union of the head pixels (BGR ``PARSING_HEAD_BGR``) of two parsing images."""
    from minerf_ns.layout import PARSING_HEAD_BGR

    head = np.array(PARSING_HEAD_BGR, dtype=np.uint8)
    mine, theirs = np.all(tracked_parsing == head, axis=-1), np.all(true_parsing == head, axis=-1)
    union = np.logical_or(mine, theirs).sum()
    return float(np.logical_and(mine, theirs).sum() / union) if union else 1.0

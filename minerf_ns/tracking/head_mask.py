"""AD-NeRF parsing images from the fitted head: the mesh silhouette grown to hair, the neck, and the torso below.

Colours are BGR as OpenCV writes them (AD-NeRF's ``parsing/*.png``): head (255, 0, 0), neck (0, 255, 0), torso
(0, 0, 255), background white. The ICT head has a skull but no hair volume, so the head region is the convex hull
of the projected head grown by ``HAIR_GROWTH`` of the face size and swept up by ``HAIR_LIFT``; below the neck is
torso. Once the static background is known, ``refine_head`` takes the wall out of the hair margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Bool, Float

from minerf_ns.layout import PARSING_BACKGROUND_BGR as BACKGROUND_BGR
from minerf_ns.layout import PARSING_HEAD_BGR as HEAD_BGR
from minerf_ns.layout import PARSING_NECK_BGR as NECK_BGR
from minerf_ns.layout import PARSING_TORSO_BGR as TORSO_BGR

HAIR_GROWTH = 0.12
"""Dilation of the head silhouette, as a fraction of the face size (hair at the sides)."""
HAIR_LIFT = 0.15
"""Upward extension of the head silhouette, as a fraction of the face size (hair on top)."""
SUBPIXEL_BITS = 4
_LABEL_BGR = np.array([BACKGROUND_BGR, TORSO_BGR, NECK_BGR, NECK_BGR] + [HEAD_BGR] * 4, dtype=np.uint8)
PALETTE_BGR = np.concatenate([_LABEL_BGR, np.zeros((256 - 8, 3), np.uint8)])[None]
"""[1, 256, 3] colour of each code ``4 head + 2 neck + torso``: the head wins over the neck, the neck over the torso."""


@dataclass
class HeadMasks:
    """Per-pixel labels of one frame."""

    head: Bool[np.ndarray, "H W"]
    neck: Bool[np.ndarray, "H W"]
    torso: Bool[np.ndarray, "H W"]

    @property
    def foreground(self) -> np.ndarray:
        """Everything that is not the static background."""
        return self.head | self.neck | self.torso

    def parsing_bgr(self) -> np.ndarray:
        """The AD-NeRF parsing image (uint8 BGR); the head wins over the neck, the neck over the torso."""
        code = (self.head.view(np.uint8) << 2) | (self.neck.view(np.uint8) << 1) | self.torso.view(np.uint8)
        return cv2.LUT(cv2.merge([code, code, code]), PALETTE_BGR)


def grown_hull(points: Float[np.ndarray, "P 2"], radius: float, lift: float = 0.0) -> np.ndarray:
    """Convex hull of the points grown by ``radius`` (a 16-gon Minkowski sum) and swept up by ``lift`` pixels."""
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    disk = radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    hull = cv2.convexHull(points.astype(np.float32))[:, 0]
    grown = (hull[:, None] + disk[None]).reshape(-1, 2)
    if lift > 0:
        grown = np.concatenate([grown, grown - np.array([0.0, lift])])
    return cv2.convexHull(grown.astype(np.float32))[:, 0]


def fill_polygon(polygon: Float[np.ndarray, "P 2"], height: int, width: int) -> np.ndarray:
    """Boolean mask of a convex polygon given in pixel coordinates."""
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillConvexPoly(mask, np.round(polygon * (1 << SUBPIXEL_BITS)).astype(np.int32), 1, cv2.LINE_8, SUBPIXEL_BITS)
    return mask.astype(bool)


def head_masks(
    uv: Float[np.ndarray, "V 2"], is_neck: Bool[np.ndarray, " V"], face_px: float, height: int, width: int
) -> HeadMasks:
    """Masks of one frame from the projected mesh (pixel coordinates of every vertex).

    The head is the convex hull of the projected head vertices grown for hair; the neck the hull of the neck
    vertices; everything below the neck's lowest row is torso.

    Args:
        uv: projected vertices.
        is_neck: which vertices lie below the neck cut.
        face_px: face size in pixels (sets the hair margin).
        height, width: image size.
    """
    head = fill_polygon(grown_hull(uv[~is_neck], HAIR_GROWTH * face_px, HAIR_LIFT * face_px), height, width)
    neck = fill_polygon(grown_hull(uv[is_neck], 0.03 * face_px), height, width) & ~head
    rows = np.nonzero(neck.any(1))[0]
    torso = np.zeros_like(head)
    if rows.size:
        torso[rows.max() :] = True
    torso &= ~(head | neck)
    return HeadMasks(head=head, neck=neck, torso=torso)


BACKGROUND_DIFFERENCE = 40
"""Sum over RGB of |frame - static background| above which a pixel of the hair margin is head (JPEG noise: < 15)."""


def refine_head(
    masks: HeadMasks,
    uv: Float[np.ndarray, "V 2"],
    is_neck: Bool[np.ndarray, " V"],
    frame: np.ndarray,
    background: np.ndarray,
) -> HeadMasks:
    """The head without the static background the hair margin also covers: the projected head itself stays head, the
    rest of the margin only where the frame differs from the static background (hair, not wall). What is taken off
    the head is background."""
    height, width = masks.head.shape
    core = fill_polygon(grown_hull(uv[~is_neck], 0.0), height, width)
    differs = np.abs(frame.astype(np.int16) - background.astype(np.int16)).sum(-1) > BACKGROUND_DIFFERENCE
    differs = cv2.morphologyEx(differs.view(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    head = masks.head & (differs | core)
    head = cv2.morphologyEx(head.view(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).astype(bool) & masks.head
    head = _fill_holes(head)  # hair like the wall inside the head is still head
    return HeadMasks(head=head, neck=masks.neck & ~head, torso=masks.torso & ~head)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every region it encloses (not reachable from the image border) filled."""
    outside = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2

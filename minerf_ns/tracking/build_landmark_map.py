"""Build ``models/facemesh_to_ict.npz``: where on the ICT-FaceKit surface each FaceMesh landmark lies.

FaceMesh runs on synthetic ICT heads (``minerf_ns.synthetic``, seeds disjoint from the benchmarks') rendered at
random identities, expressions and poses. Each landmark's pixel is looked up in the renderer's fragment buffer, which
names the triangle and barycentric point it sees; that surface point is carried to the neutral head, the per-landmark
median over all frames is taken and snapped back onto the nearest triangle.

    python -m minerf_ns.tracking.build_landmark_map [--identities 12] [--frames 40] [--size 384]
"""

from __future__ import annotations

import argparse
from importlib import resources

import cv2
import numpy as np

from minerf_ns.face.head_model import load_head_model
from minerf_ns.face.rasterizer import rasterize
from minerf_ns.head_pose import world_to_camera
from minerf_ns.synthetic.dataset_writer import SynthSettings, make_scene
from minerf_ns.synthetic.talking_head import Appearance, background_image, intrinsics, render_frame
from minerf_ns.tracking.face_landmarker import NUM_LANDMARKS, FaceLandmarker
from minerf_ns.tracking.landmark_map import MAP_FILE

MAP_SEED = 1000
"""Seed of the identities the map is built from (the benchmarks use seeds below 100)."""


def closest_on_triangles(
    point: np.ndarray, verts: np.ndarray, triangles: np.ndarray, candidates: np.ndarray
) -> tuple[int, np.ndarray, float]:
    """Nearest point to ``point`` over the ``candidates`` triangles: (triangle, barycentric, distance)."""
    best = (-1, np.zeros(3), np.inf)
    for tri in candidates:
        a, b, c = verts[triangles[tri]]
        # Barycentrics of the projection onto the plane, clipped onto the triangle by sampling its edges if outside.
        m = np.stack([b - a, c - a], axis=1)
        uv, *_ = np.linalg.lstsq(m, point - a, rcond=None)
        bary = np.array([1 - uv.sum(), uv[0], uv[1]])
        if bary.min() < 0:
            bary = np.clip(bary, 0, None)
            bary /= bary.sum()
        dist = float(np.linalg.norm(bary @ np.stack([a, b, c]) - point))
        if dist < best[2]:
            best = (int(tri), bary, dist)
    return best


def collect_hits(num_identities: int, num_frames: int, size: int) -> list[list[np.ndarray]]:
    """For every landmark, the neutral-head surface points it was seen on."""
    model = load_head_model()
    identities, videos = make_scene(SynthSettings(num_identities, num_frames, size, seed=MAP_SEED))
    fx, fy, cx, cy = intrinsics(size, size)
    hits: list[list[np.ndarray]] = [[] for _ in range(NUM_LANDMARKS)]
    for identity, video in zip(identities, videos):
        appearance = Appearance(model, identity)
        background = background_image(identity, size, size)
        landmarker = FaceLandmarker()
        for k, c2w in enumerate(video.camera_to_worlds):
            frame = render_frame(model, appearance, identity.shape, video.expressions[k], c2w, background)
            rgb = np.clip(np.round(frame.rgb * 255), 0, 255).astype(np.uint8)
            result = landmarker.track(rgb)
            if result is None:
                continue
            verts = model.vertices(identity.shape, video.expressions[k])
            frags = rasterize(world_to_camera(verts, c2w), model.triangles, fx, fy, cx, cy, size, size)
            cols = np.clip(np.floor(result.points[:, 0]).astype(int), 0, size - 1)
            rows = np.clip(np.floor(result.points[:, 1]).astype(int), 0, size - 1)
            tri = frags.triangle[rows, cols]
            bary = frags.barycentric[rows, cols]
            for lm in np.nonzero(tri >= 0)[0]:
                hits[lm].append(bary[lm] @ model.neutral[model.triangles[tri[lm]]])
        print(f"{identity.name}: {num_frames} frames", flush=True)
    return hits


def build(num_identities: int, num_frames: int, size: int) -> dict:
    """The map's arrays."""
    model = load_head_model()
    hits = collect_hits(num_identities, num_frames, size)
    centroids = model.neutral[model.triangles].mean(1)
    vertex_ids = np.zeros((NUM_LANDMARKS, 3), dtype=np.int32)
    bary = np.zeros((NUM_LANDMARKS, 3), dtype=np.float32)
    spread = np.zeros(NUM_LANDMARKS, dtype=np.float32)
    for lm, points in enumerate(hits):
        if not points:
            raise RuntimeError(f"landmark {lm} never landed on the head; render more frames")
        points = np.asarray(points)
        median = np.median(points, axis=0)
        spread[lm] = 1000.0 * float(np.median(np.linalg.norm(points - median, axis=-1)))
        candidates = np.argsort(np.linalg.norm(centroids - median, axis=-1))[:24]
        tri, weights, _ = closest_on_triangles(median, model.neutral, model.triangles, candidates)
        vertex_ids[lm] = model.triangles[tri]
        bary[lm] = weights
    return {"vertex_ids": vertex_ids, "barycentric": bary, "spread_mm": spread}


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=12)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    arrays = build(args.identities, args.frames, args.size)
    path = resources.files("minerf_ns.tracking").joinpath("models", MAP_FILE)
    np.savez_compressed(str(path), **arrays)
    print(f"wrote {path}: median spread {np.median(arrays['spread_mm']):.2f} mm, max {arrays['spread_mm'].max():.2f}")


if __name__ == "__main__":
    main()

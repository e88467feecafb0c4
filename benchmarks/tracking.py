"""``minerf-track`` accuracy on synthetic videos (exact truth) and speed/reprojection on real clips.

    python benchmarks/tracking.py --synthetic DATA [--real CLIP.mp4 ...] [--photometric] [--out OUT]

DATA is a ``minerf-synth`` dataset; each identity's ``head_imgs/`` folder is tracked as a raw video (the tracker
never sees the truth) and its ``track_params.pt`` is compared with ``_ground_truth/meta.json``. Real clips report
frames/s of the whole command's work (decode, landmarks, fit, masks, background, overlay video) and reprojection.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from minerf_ns.tracking.photometric_refinement import PhotometricSettings
from minerf_ns.tracking.track_accuracy import head_mask_iou, tracking_errors
from minerf_ns.tracking.tracker import TrackSettings, track_video
from minerf_ns.tracking.video_source import open_source


def mask_iou(tracked: Path, truth: Path, frame_ids) -> float:
    """Mean head-mask IoU of the tracker's parsing images against minerf-synth's exact ones."""
    name = "parsing/{}.png".format
    ious = [head_mask_iou(cv2.imread(str(tracked / name(k))), cv2.imread(str(truth / name(k)))) for k in frame_ids]
    return float(np.mean(ious))


def track(path: Path, out: Path, name: str, photometric: bool) -> tuple[dict, dict]:
    settings = TrackSettings(photometric=PhotometricSettings() if photometric else None)
    report = track_video(open_source(path), out / name, settings)
    params = torch.load(out / name / "track_params.pt", weights_only=True)
    return report, {k: v.numpy() for k, v in params.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=Path)
    parser.add_argument("--real", type=Path, nargs="*", default=[])
    parser.add_argument("--photometric", action="store_true", help="minerf-track --photometric")
    parser.add_argument("--out", type=Path, default=None, help="keep the tracked folders here (default: temporary)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="track-bench-"))
    rows = []
    if args.synthetic:
        meta = json.loads((args.synthetic / "_ground_truth" / "meta.json").read_text())
        print(f"synthetic {args.synthetic}: {meta['settings']}")
        header = ("identity", "rot deg", "rot max", "rot -offset", "rot landmark part", "face tilt beyond",
                  "trans mm", "expr MAE", "jawOpen MAE", "jaw corr",
                  "reproj px", "focal/true", "head mask IoU", "frames/s")  # fmt: skip
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for entry in meta["identities"]:
            report, params = track(args.synthetic / entry["name"] / "head_imgs", out, entry["name"], args.photometric)
            err = tracking_errors(params, entry)
            err["head_mask_iou"] = mask_iou(out / entry["name"], args.synthetic / entry["name"], params["frame_ids"])
            true_focal = meta["intrinsics"]["fx"]
            rows.append(err)
            print(f"| {entry['name']} | {err['rotation_deg_mean']:.2f} | {err['rotation_deg_max']:.2f} | "
                  f"{err['rotation_offset_removed_deg_mean']:.2f} | {err['rotation_landmark_region_deg_mean']:.2f} | "
                  f"{err['face_tilt_beyond_landmarks_deg']:.2f} | {err['translation_mm_mean']:.1f} | "
                  f"{err['expression_mae']:.3f} | {err['jaw_open_mae']:.3f} | {err['jaw_open_correlation']:.2f} | "
                  f"{report['reprojection_error_px']['mean']:.2f} | {report['focal_px'] / true_focal:.2f} | "
                  f"{err['head_mask_iou']:.3f} | {report['frames_per_second']:.1f} |")  # fmt: skip
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        offset_removed = mean["rotation_offset_removed_deg_mean"]
        print(f"mean: rotation {mean['rotation_deg_mean']:.2f} deg (offset removed {offset_removed:.2f}, landmark part "
              f"{mean['rotation_landmark_region_deg_mean']:.2f}, face tilt beyond the landmarks "
              f"{mean['face_tilt_beyond_landmarks_deg']:.2f}),"
              f" jawOpen MAE {mean['jaw_open_mae']:.3f}, expression MAE {mean['expression_mae']:.3f}, head mask IoU "
              f"{mean['head_mask_iou']:.3f}")  # fmt: skip
    for clip in args.real:
        report, _ = track(clip, out, clip.stem, args.photometric)
        err = report["reprojection_error_px"]
        print(f"real {clip.name}: {report['width']}x{report['height']}, {report['frames_tracked']}/{report['frames']} "
              f"tracked, reprojection mean {err['mean']:.2f} px (p95 frame {err['p95_frame']:.2f}), focal "
              f"{report['focal_px']:.0f} px, {report['frames_per_second']:.1f} frames/s, timings "
              f"{ {k: round(v, 2) for k, v in report['timings'].items()} }")  # fmt: skip
    if args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()

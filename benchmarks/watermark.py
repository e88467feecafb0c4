"""The watermark, measured (issue 31): what it costs a render's PSNR/SSIM against the truth, whether it is read back
after re-encoding, resizing, cropping and screenshots, whether unmarked real footage is ever taken for marked, and
its cost per frame.

    python benchmarks/watermark.py --load-config outputs/.../config.yml --video renders/clean_5s.mp4 \\
        --real ../shared/data/real-clips --tracked /tmp/xs/real

``--video`` is a render written with ``--no-watermark`` (its clean frames; the script marks them exactly as every
render is marked). The mark's reading here uses the pixels alone: the files' statements are not consulted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import cv2
import imageio_ffmpeg
import numpy as np
import torch

from minerf_ns.commands import load_run, quiet_warnings, render_provenance
from minerf_ns.contract import HEAD_BOX
from minerf_ns.media import to_uint8
from minerf_ns.provenance import watermark
from minerf_ns.provenance.statement import Provenance
from minerf_ns.provenance.verify import video_frames

WINDOW = 11
"""Frames read together for the windowed per-frame rate (the frame and 5 on each side: 0.44 s at 25 fps)."""


def read_video(path: Path, limit: int | None = None) -> List[np.ndarray]:
    return list(video_frames(path, limit))


def h264(frames: List[np.ndarray], crf: int) -> List[np.ndarray]:
    """The frames through an H.264 encode at ``crf`` (libx264, yuv420p, preset medium) and back."""
    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reencoded.mp4"
        writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=25, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=1, ffmpeg_log_level="error",
                                             output_params=["-crf", str(crf), "-preset", "medium"])  # fmt: skip
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        return read_video(path)


def png_round_trip(frames: List[np.ndarray]) -> List[np.ndarray]:
    return [cv2.imdecode(cv2.imencode(".png", f)[1], cv2.IMREAD_UNCHANGED) for f in frames]


def half_and_back(frames: List[np.ndarray]) -> List[np.ndarray]:
    out = []
    for f in frames:
        h, w = f.shape[:2]
        small = cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        out.append(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))
    return out


def crop_10(frames: List[np.ndarray]) -> List[np.ndarray]:
    """10% of each side's length cut away, 5% at each edge (the tile's origin moves)."""
    h, w = frames[0].shape[:2]
    dy, dx = int(round(0.05 * h)), int(round(0.05 * w))
    return [f[dy : h - dy, dx : w - dx] for f in frames]


def screenshot(frames: List[np.ndarray]) -> List[np.ndarray]:
    """What a screenshot of a player showing the video at twice its size gives: bilinear 2x, then PNG."""
    return png_round_trip([cv2.resize(f, (2 * f.shape[1], 2 * f.shape[0]), interpolation=cv2.INTER_LINEAR)
                           for f in frames])  # fmt: skip


ATTACKS: Dict[str, Callable[[List[np.ndarray]], List[np.ndarray]]] = {
    "PNG round trip": png_round_trip,
    "H.264 crf 23": lambda f: h264(f, 23),
    "H.264 crf 28": lambda f: h264(f, 28),
    "half size and back": half_and_back,
    "10% crop": crop_10,
    "10% crop, then crf 28": lambda f: h264(crop_10(f), 28),
    "screenshot (2x, PNG)": screenshot,
}


def rates(frames: List[np.ndarray], payload) -> Dict[str, float]:
    """Per frame alone, per window of ``WINDOW`` frames, and the whole clip: marked with the right payload."""
    alone = [watermark.read_mark([f]) for f in frames]
    half = WINDOW // 2
    windows = [watermark.read_mark(frames[max(0, k - half) : k + half + 1]) for k in range(len(frames))]
    clip = watermark.read_mark(frames)
    right = lambda r: r.marked and r.payload == payload  # noqa: E731
    return {
        "frames": 100.0 * np.mean([right(r) for r in alone]),
        "windows": 100.0 * np.mean([right(r) for r in windows]),
        "clip_z": clip.z,
        "clip": float(right(clip)),
        "median_z": float(np.median([r.z for r in alone])),
    }


def quality(config_path: Path) -> None:
    """The held-out renders of a run, with and without the mark, against the truth."""
    config, pipeline, _ = load_run(config_path, "watermark benchmark")
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    mark = render_provenance(config, "benchmark", model.identity_names)
    sums: Dict[str, List[float]] = {}
    for idx in range(len(dataset)):
        item = dataset[idx]
        truth = item["image"][..., :3].float()
        render = to_uint8(model.get_outputs_for_camera(dataset.cameras[idx : idx + 1])["rgb"].cpu())
        for name, image in (("clean", render), ("marked", mark.mark(render))):
            metrics = model.metrics.image_metrics(torch.from_numpy(image).float() / 255.0, truth, item[HEAD_BOX])
            for key in ("psnr", "ssim", "head_psnr", "head_ssim"):
                sums.setdefault(f"{name} {key}", []).append(metrics[key])
    mean = {k: float(np.mean(v)) for k, v in sums.items()}
    print(f"\n## Effect on the render ({len(dataset)} held-out frames of {config_path})")
    print("| | PSNR frame | SSIM frame | PSNR head box | SSIM head box |\n|---|---|---|---|---|")
    for name in ("clean", "marked"):
        print(f"| {name} | {mean[name + ' psnr']:.3f} | {mean[name + ' ssim']:.4f} | {mean[name + ' head_psnr']:.3f} | "
              f"{mean[name + ' head_ssim']:.4f} |")  # fmt: skip
    print(f"| change | {mean['marked psnr'] - mean['clean psnr']:+.3f} dB | "
          f"{mean['marked ssim'] - mean['clean ssim']:+.4f} | {mean['marked head_psnr'] - mean['clean head_psnr']:+.3f}"
          f" dB | {mean['marked head_ssim'] - mean['clean head_ssim']:+.4f} |")  # fmt: skip


def robustness(video: Path) -> None:
    clean = read_video(video)
    provenance = Provenance(run="benchmark/mi-nerf-fast/0", identities=("benchmark",), command="benchmark")
    payload = provenance.payload
    started = time.perf_counter()
    marked = [provenance.mark(f) for f in clean]
    embed_ms = 1000 * (time.perf_counter() - started) / len(clean)
    rms = float(np.sqrt(np.mean([(m.astype(float) - c) ** 2 for m, c in zip(marked, clean)])))
    started = time.perf_counter()
    for frame in marked:
        watermark.read_mark([frame])
    read_ms = 1000 * (time.perf_counter() - started) / len(marked)
    h, w = clean[0].shape[:2]
    print(f"\n## Read back ({video.name}: {len(clean)} frames, {w}x{h}; mark RMS {rms:.2f} levels; "
          f"embed {embed_ms:.1f} ms, read {read_ms:.1f} ms a frame)")  # fmt: skip
    print(f"| after | frames alone | {WINDOW}-frame windows | whole clip (z) | median z of a frame |")
    print("|---|---|---|---|---|")
    for name, attack in {"nothing": lambda f: f, **ATTACKS}.items():
        r = rates(attack(marked), payload)
        print(f"| {name} | {r['frames']:.0f}% | {r['windows']:.0f}% | {'yes' if r['clip'] else 'no'} "
              f"({r['clip_z']:.1f}) | {r['median_z']:.1f} |", flush=True)  # fmt: skip
    r = rates(h264(clean, 28), payload)
    print(f"| unmarked, crf 28 (control) | {r['frames']:.0f}% | {r['windows']:.0f}% | "
          f"{'yes' if r['clip'] else 'no'} ({r['clip_z']:.1f}) | {r['median_z']:.1f} |")  # fmt: skip


def false_positives(real: List[Path], tracked: List[Path], limit: int) -> None:
    print(f"\n## Unmarked real footage (first {limit} frames of each; threshold z {watermark.MARKED_Z:g})")
    print("| footage | frames | read as marked alone | frames with z >= 6 | highest z of a frame | whole clip z |")
    print("|---|---|---|---|---|---|")
    sources = [(p.name, lambda p=p: read_video(p, limit)) for p in real]
    for folder in tracked:
        images = sorted((folder / "ori_imgs").glob("*.jpg"), key=lambda p: int(p.stem))[:limit]
        load = lambda images=images: [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in images]  # noqa: E731
        sources.append((f"{folder.name} (tracked)", load))
    for name, load in sources:
        frames = load()
        if not frames:
            continue
        readings = [watermark.read_mark([f]) for f in frames]
        zs = [r.z for r in readings]
        clip = watermark.read_mark(frames)
        marked, high = sum(r.marked for r in readings), sum(z >= watermark.MARKED_Z for z in zs)
        print(f"| {name} {frames[0].shape[1]}x{frames[0].shape[0]} | {len(frames)} | {marked} | {high} | "
              f"{max(zs):.1f} | {clip.z:.1f}{' MARKED' if clip.marked else ''} |", flush=True)  # fmt: skip


def main() -> None:
    quiet_warnings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-config", type=Path, help="a run: its held-out renders with and without the mark")
    parser.add_argument("--video", type=Path, help="a render written with --no-watermark")
    parser.add_argument("--real", type=Path, help="a folder of real videos (false positives)")
    parser.add_argument("--tracked", type=Path, help="a dataset root tracked by minerf-track (its ori_imgs/)")
    parser.add_argument("--frames", type=int, default=250, help="frames of each real video")
    args = parser.parse_args()
    if args.load_config:
        quality(args.load_config)
    if args.video:
        robustness(args.video)
    if args.real or args.tracked:
        real = sorted(p for p in args.real.iterdir() if p.suffix.lower() in (".mp4", ".mov")) if args.real else []
        tracked = sorted(p for p in args.tracked.iterdir() if (p / "ori_imgs").is_dir()) if args.tracked else []
        false_positives(real, tracked, args.frames)


if __name__ == "__main__":
    main()

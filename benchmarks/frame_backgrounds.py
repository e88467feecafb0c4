"""Each frame's own background against the static one (issue 19, item 8): held-out PSNR of runs trained each way,
inside the head mask (where both show the rendered head over the same static background, so the score is the
NeRF's alone), on the head box, and on the whole frame (where the per-frame run is given the frame outside the head).

    python benchmarks/frame_backgrounds.py --load-config RUN_A/config.yml RUN_B/config.yml [--png OUT.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dataparsers.frame_background import head_mask
from minerf_ns.commands import load_run, quiet_warnings
from minerf_ns.contract import HEAD_BOX, IDENTITY


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10.0 * torch.log10(((a - b) ** 2).mean().clamp_min(1e-10)))


def scores(config: Path, png: Path | None) -> dict:
    _, pipeline, _ = load_run(config, "frame_backgrounds")
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    names = model.catalogue.identity_names
    rows, picture = {}, []
    for idx in range(len(dataset)):
        item = dataset[idx]
        image = item["image"][..., :3]
        height, width = image.shape[:2]
        render = model.get_outputs_for_camera(dataset.cameras[idx : idx + 1])["rgb"].clamp(0, 1).cpu()
        head = torch.from_numpy(head_mask(dataset.metadata["parsing_filenames"][idx], None, height, width))
        box = item[HEAD_BOX][..., 0]
        name = names[int(dataset.cameras.metadata[IDENTITY][idx, 0])]
        entry = rows.setdefault(name, {"head mask": [], "head box": [], "frame": []})
        entry["head mask"].append(psnr(render[head], image[head]))
        entry["head box"].append(psnr(render[box], image[box]))
        entry["frame"].append(psnr(render, image))
        if idx % max(1, len(dataset) // len(names)) == 0:
            picture.append(torch.cat([image, render], 1))
    if png is not None:
        from minerf_ns.media import to_uint8, write_png

        write_png(png, to_uint8(torch.cat(picture, 0)))
    return {name: {k: float(np.mean(v)) for k, v in entry.items()} for name, entry in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-config", type=Path, nargs="+", required=True)
    parser.add_argument("--png", type=Path, default=None, help="held-out frames | renders, one file per run")
    args = parser.parse_args()
    quiet_warnings()
    print("| run | background | identity | PSNR in head mask | head box | frame |")
    print("|---|---|---|---|---|---|")
    for k, config in enumerate(args.load_config):
        png = None if args.png is None else args.png.with_name(f"{args.png.stem}-{k}{args.png.suffix}")
        mode = "?"
        for line in config.read_text().splitlines():
            if line.strip().startswith("background:"):
                mode = line.split(":", 1)[1].strip()
        for name, s in scores(config, png).items():
            print(f"| {k} | {mode} | {name} | {s['head mask']:.2f} | {s['head box']:.2f} | {s['frame']:.2f} |")


if __name__ == "__main__":
    main()

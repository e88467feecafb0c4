"""``minerf-eval heldout``: held-out frames of any dataset rendered next to the truth, with metrics.

``minerf-eval transfer``: expression transfer measured against exact ground truth on a `minerf-synth` dataset; on
real footage (no ground truth), the cross-identity check of ``minerf_ns/cross_identity.py`` on the run's held-out
frames: identity PSNR outside the mouth and the lip-gap correlation with the driver.

For every identity A of the model and every video B of the dataset, A is rendered with B's expression k under A's
pose k and compared with the true image (PSNR/SSIM, LPIPS when its weights exist, on the head box and the whole
frame); A == B is self-reenactment. ``expression_psnr`` (transfer only) scores just the pixels B's expression changes
on A (where the true image differs from A's own frame k, same pose): expression generalisation without the face and
hair that head-box scores are mostly made of. Also writes the paper's figures: identity codes in 2-D, singular
values of the interaction module's matrices, and a grid of identities x driving expressions.

    minerf-eval transfer --load-config outputs/.../config.yml --output-dir transfer-eval
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Literal, Optional

import numpy as np
import torch
import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from minerf_ns.commands import fail, load_run, quiet_warnings, refuse_existing, render_provenance, run_command
from minerf_ns.media import display_factor, label, upscale, write_png

CONSOLE = Console()
TOOL = "minerf-eval transfer"
METRIC_KEYS = ("head_psnr", "head_ssim", "psnr", "ssim", "expression_psnr")
REAL_METRIC_KEYS = ("identity_psnr", "gap", "lip_gap_r", "head_psnr", "mouth_psnr")


@dataclass
class EvalTransfer:
    """Measure expression transfer and self-reenactment of a trained MI-NeRF: against exact ground truth on a
    minerf-synth dataset; on real footage, identity PSNR outside the mouth and how well the mouth follows the driver's
    (its lip gap's correlation), on the run's held-out frames."""

    load_config: Path
    """The run's config.yml (written by ns-train)."""
    output_dir: Path = Path("transfer-eval")
    """Where transfer.json and the figures go."""
    data: Optional[Path] = None
    """The `minerf-synth` dataset with its ground truth (default: the run's training data)."""
    frames: Literal["held-out", "all"] = "held-out"
    """Which frame numbers k to evaluate: the held-out ones (the last 10%) or every frame."""
    pair_frames: int = 8
    """Real footage: held-out frames of each identity (and of each driver) per pair, evenly spaced."""
    figures: bool = True
    """Also write identity_codes.png, singular_values.png and transfer_grid.png."""
    no_watermark: bool = False
    """Leave the invisible watermark out of the pixels (the file's statement that it is a render stays). Keep the mark
    where you can: it lets whoever receives the file, after re-encoding or cropping, tell a rendered face from a
    recording (``minerf-verify``)."""
    overwrite: bool = False
    """Replace an existing output folder's files."""

    def main(self) -> None:
        from dataparsers.head_dataset import box_from_mask, box_image
        from dataparsers.transfer_ground_truth import TransferGroundTruth
        from minerf_ns.transfer import render_transfer

        refuse_existing(self.output_dir, TOOL, self.overwrite)
        if self.pair_frames < 1:
            fail(TOOL, f"--pair-frames {self.pair_frames}: must be at least 1. Fix: pass a positive count (default 8)")
        config, pipeline, step = load_run(self.load_config, TOOL)
        if self.data is None and not TransferGroundTruth.exists(config.pipeline.datamanager.data):
            return self.cross_identity(config, pipeline, step)
        model = pipeline.model
        truth = TransferGroundTruth(self.data or config.pipeline.datamanager.data)
        missing = [n for n in model.identity_names if n not in truth.names]
        if missing:
            fail(TOOL, f"{truth.root}: no ground truth for the model's identities {missing}. "
                 "Fix: pass the minerf-synth dataset the model was trained on (--data)")  # fmt: skip
        frames = truth.held_out_frames() if self.frames == "held-out" else list(range(truth.num_frames))
        names = model.identity_names  # targets; the drivers are every video of the dataset, seen by the model or not
        scores: Dict[str, Dict[str, Dict[str, List[float]]]] = {a: {b: {} for b in truth.names} for a in names}
        with Progress(TextColumn("transfer"), BarColumn(), TextColumn("{task.completed}/{task.total} renders"),
                      TimeRemainingColumn(), console=CONSOLE) as progress:  # fmt: skip
            task = progress.add_task("transfer", total=len(names) * len(truth.names) * len(frames))
            for a, target in enumerate(names):
                background = truth.background(target)
                for source in truth.names:
                    expressions = torch.from_numpy(truth.expressions(source)[frames])
                    poses = model.catalogue.camera_to_worlds[a][frames]
                    renders = render_transfer(model, a, expressions, poses, lambda: progress.advance(task))
                    for k, render in zip(frames, renders):
                        image = truth.image(target, source, k)
                        box = box_image(box_from_mask(np.abs(image - background).max(-1) > 0.1), *image.shape[:2])
                        pred, true = torch.from_numpy(render).float() / 255.0, torch.from_numpy(image)
                        metrics = model.metrics.image_metrics(pred, true, box)
                        # one's own frames change no expression: no region to score
                        region = truth.expression_region(target, source, k, image) if source != target else None
                        if region is not None and region.any():
                            region = torch.from_numpy(region)
                            metrics["expression_psnr"] = float(model.metrics.masked_psnr(pred, true, region))
                            metrics["expression_pixels"] = float(region.float().mean())
                        for key, value in metrics.items():
                            scores[target][source].setdefault(key, []).append(float(value))
        pairs = {a: {b: {k: float(np.mean(v)) for k, v in row[b].items()} for b in row} for a, row in scores.items()}
        summary = {
            "config": str(self.load_config),
            "method": config.method_name,
            "interaction": model.config.interaction,
            "step": int(step),
            "frames": self.frames,
            "transfer": mean_over(pairs, same=False),
            "self_reenactment": mean_over(pairs, same=True),
            "pairs": pairs,
        }
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "transfer.json").write_text(json.dumps(summary, indent=2))
        print_table(summary)
        if self.figures:
            provenance = render_provenance(config, TOOL, model.identity_names, not self.no_watermark)
            self.write_figures(model, truth, provenance)
        CONSOLE.print(f"wrote {self.output_dir / 'transfer.json'}")

    def cross_identity(self, config, pipeline, step: int) -> None:
        """Real footage: every identity driven by every identity's held-out expressions, without ground truth."""
        from minerf_ns.cross_identity import evaluate_cross_identity
        from minerf_ns.evaluation import held_out_rows

        model = pipeline.model
        rows = held_out_rows(pipeline.datamanager.eval_dataset, self.pair_frames)
        count = sum(len(chosen) for chosen in rows.values()) * len(rows)
        with Progress(TextColumn("transfer"), BarColumn(), TextColumn("{task.completed}/{task.total} renders"),
                      TimeRemainingColumn(), console=CONSOLE) as progress:  # fmt: skip
            task = progress.add_task("transfer", total=count)
            summary, grid = evaluate_cross_identity(pipeline, rows, lambda: progress.advance(task))
        summary = {"config": str(self.load_config), "method": config.method_name,
                   "interaction": model.config.interaction, "step": int(step), "protocol": "cross-identity",
                   **summary}  # fmt: skip
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "transfer.json").write_text(json.dumps(summary, indent=2))
        print_table(summary, REAL_METRIC_KEYS)
        if self.figures:
            provenance = render_provenance(config, TOOL, model.identity_names, not self.no_watermark)
            write_png(self.output_dir / "transfer_grid.png", grid, provenance=provenance)
            self.write_code_figures(model)
        CONSOLE.print(f"wrote {self.output_dir / 'transfer.json'}")

    def write_code_figures(self, model) -> None:
        """identity_codes.png and singular_values.png."""
        from minerf_ns.figures import plot_identity_codes, plot_singular_values

        codes = model.conditioning.codes.identity.weight.detach().cpu().numpy()
        plot_identity_codes(codes, model.identity_names, self.output_dir / "identity_codes.png")
        interaction = model.conditioning.interaction
        matrices = {n: p.detach().cpu().numpy() for n, p in interaction.named_parameters() if p.ndim == 2}
        if matrices:
            plot_singular_values(matrices, self.output_dir / "singular_values.png")

    def write_figures(self, model, truth, provenance) -> None:
        """identity_codes.png, singular_values.png, transfer_grid.png (the renders: marked by ``provenance``)."""
        from minerf_ns.transfer import render_transfer

        names = model.identity_names
        self.write_code_figures(model)
        # Rows: identities; columns: each video's first held-out expression; the identity's first pose.
        k = truth.held_out_frames()[0]
        drivers = torch.from_numpy(np.stack([truth.expressions(n)[k] for n in truth.names]))
        rows = []
        for a, target in enumerate(names):
            poses = model.catalogue.camera_to_worlds[a][:1].expand(len(drivers), 3, 4)
            renders = render_transfer(model, a, drivers, poses, sequence=False)
            factor = display_factor(renders.shape[1])
            tiles = [label(upscale(r, factor), f"{target} <- {n}") for r, n in zip(renders, truth.names)]
            rows.append(np.concatenate(tiles, axis=1))
        write_png(self.output_dir / "transfer_grid.png", np.concatenate(rows, axis=0), provenance=provenance)


def mean_over(pairs: Dict[str, Dict[str, Dict[str, float]]], same: bool) -> Dict[str, float]:
    """Metrics averaged over the ordered pairs with target == source (``same``) or target != source."""
    chosen = [m for a, row in pairs.items() for b, m in row.items() if (a == b) == same]
    if not chosen:
        return {}
    keys = dict.fromkeys(key for m in chosen for key in m)  # expression_psnr exists only where an expression changed
    return {key: float(np.mean([m[key] for m in chosen if key in m])) for key in keys}


def print_table(summary: dict, keys=METRIC_KEYS) -> None:
    """Transfer and self-reenactment scores."""
    table = Table(title=f"{summary['method']} ({summary['interaction']}), step {summary['step']}")
    table.add_column("")
    for key in keys:
        table.add_column(key, justify="right")
    for row in ("transfer", "self_reenactment"):
        values = summary[row]
        table.add_row(row, *(f"{values[k]:.3f}" if k in values else "-" for k in keys))
    CONSOLE.print(table)


@dataclass
class EvalHeldOut:
    """Render every held-out frame of a trained MI-NeRF next to the truth: per-identity PSNR/SSIM (frame, head box and
    mouth box) in heldout.json and heldout_comparison.png (ground truth, render, error x4 of each identity's first
    held-out frame); with ICT-FaceKit expressions also mouth_comparison.png (truth | render of each identity's held-out
    frames with the widest tracked jawOpen, the mouth enlarged) and FaceMesh's lip gap on them (render / truth).
    Works on any mi-nerf-data dataset, real (minerf-track) or synthetic."""

    load_config: Path
    """The run's config.yml (written by ns-train)."""
    output_dir: Path = Path("heldout-eval")
    """Where heldout.json and heldout_comparison.png go."""
    frames: Optional[int] = None
    """Score only this many held-out frames of each identity, evenly spaced (long videos); all by default."""
    no_watermark: bool = False
    """Leave the invisible watermark out of the pixels (the file's statement that it is a render stays). Keep the mark
    where you can: it lets whoever receives the file, after re-encoding or cropping, tell a rendered face from a
    recording (``minerf-verify``)."""
    overwrite: bool = False
    """Replace an existing output folder's files."""

    def main(self) -> None:
        from minerf_ns.evaluation import compare_widest_mouths, evaluate_held_out, held_out_table, mean_metrics

        tool = "minerf-eval heldout"
        refuse_existing(self.output_dir, tool, self.overwrite)
        config, pipeline, step = load_run(self.load_config, tool)
        if self.frames is not None and self.frames < 1:
            fail(tool, f"--frames {self.frames}: must be at least 1. Fix: pass a positive count, or leave it out (all)")
        per_identity, comparison = evaluate_held_out(pipeline, self.frames)
        widest, mouths = compare_widest_mouths(pipeline)
        provenance = render_provenance(config, tool, pipeline.model.identity_names, not self.no_watermark)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        written = [self.output_dir / "heldout.json", self.output_dir / "heldout_comparison.png"]
        write_png(written[1], comparison, provenance=provenance)
        if mouths is not None:
            written.append(self.output_dir / "mouth_comparison.png")
            write_png(written[-1], mouths, provenance=provenance)
        mean = mean_metrics(per_identity)
        with open(written[0], "w", encoding="utf-8") as handle:
            json.dump({"config": str(self.load_config), "step": step, "identities": per_identity, "mean": mean,
                       "widest_mouths": widest}, handle, indent=1)  # fmt: skip
        CONSOLE.print(held_out_table(per_identity, mean, f"held-out frames, step {step}"))
        if widest:
            CONSOLE.print("widest held-out mouths (FaceMesh lip gap, render / truth): " + ", ".join(
                f"{name} {w['gap_ratio']:.2f} ({w['frames']} frames)" for name, w in widest.items()))  # fmt: skip
        CONSOLE.print("wrote " + ", ".join(str(p) for p in written))


def entrypoint() -> None:
    """Console entry point."""
    quiet_warnings()
    command = tyro.extras.subcommand_cli_from_dict({"transfer": EvalTransfer, "heldout": EvalHeldOut})
    run_command("minerf-eval", command.main)


if __name__ == "__main__":
    entrypoint()

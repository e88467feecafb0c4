"""Every option each method's `ns-train --help` shows is one that works; the others are kept off the command line.

The help is ns-train's own (its entry point, in this process: each console-script start costs 15 s here). The
allow-lists below are the review: an option that appears or disappears fails the test until it is looked at.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import sys

import pytest
import torch
import tyro

from minerf_ns.config import METHODS
from minerf_ns.optimizer_groups import GAUSSIAN_GROUPS
from minerf_ns.training import configure_run, start_trainer

NERFSTUDIO_TRAINER = {
    # nerfstudio's own trainer, viewer, logging and machine options: its Trainer reads each of them.
    "--data", "--experiment-name", "--gradient-accumulation-steps", "--help", "--load-checkpoint", "--load-config",
    "--load-dir", "--load-scheduler", "--load-step", "--log-gradients", "--logging.local-writer.enable",
    "--logging.local-writer.max-log-size", "--logging.local-writer.stats-to-track", "--logging.max-buffer-size",
    "--logging.profiler", "--logging.relative-log-dir", "--logging.steps-per-log", "--machine.device-type",
    "--machine.dist-url", "--machine.machine-rank", "--machine.num-devices", "--machine.num-machines", "--machine.seed",
    "--max-num-iterations", "--method-name", "--mixed-precision", "--output-dir", "--project-name",
    "--relative-model-dir", "--save-only-latest-checkpoint", "--start-paused", "--steps-per-eval-all-images",
    "--steps-per-eval-batch", "--steps-per-eval-image", "--steps-per-save", "--timestamp", "--use-grad-scaler",
    "--viewer.camera-frustum-scale", "--viewer.default-composite-depth", "--viewer.image-format",
    "--viewer.jpeg-quality", "--viewer.make-share-url", "--viewer.max-num-display-images",
    "--viewer.num-rays-per-chunk", "--viewer.quit-on-train-completion", "--viewer.relative-log-filename",
    "--viewer.websocket-host", "--viewer.websocket-port", "--viewer.websocket-port-default", "--vis",
}  # fmt: skip
DATAMANAGER = {
    "--pipeline.datamanager.cache-budget-gb", "--pipeline.datamanager.camera-res-scale-factor",
    "--pipeline.datamanager.data", "--pipeline.datamanager.eval-num-images-to-sample-from",
    "--pipeline.datamanager.eval-num-rays-per-batch", "--pipeline.datamanager.eval-num-times-to-repeat-images",
    "--pipeline.datamanager.images-on-gpu", "--pipeline.datamanager.pixel-sampler.in-box-fraction",
    "--pipeline.datamanager.pixel-sampler.mouth-fraction",
    "--pipeline.datamanager.pixel-sampler.one-frame-per-batch", "--pipeline.datamanager.subset-repeat-iterations",
    "--pipeline.datamanager.train-num-images-to-sample-from", "--pipeline.datamanager.train-num-rays-per-batch",
    "--pipeline.datamanager.train-num-times-to-repeat-images",
}  # fmt: skip
MODEL = {
    "--pipeline.model.allow-tf32", "--pipeline.model.eval-num-rays-per-chunk", "--pipeline.model.freeze-interaction",
    "--pipeline.model.expression-gain",
    "--pipeline.model.identity-reg-mult", "--pipeline.model.interaction", "--pipeline.model.interaction-degree",
    "--pipeline.model.interaction-rank", "--pipeline.model.latent-dim", "--pipeline.model.latent-reg-mult",
    "--pipeline.model.smoothing-after", "--pipeline.model.unseen-latent",
    "--pipeline.model.geometry.direction-frequencies",
}  # fmt: skip
OPTIMIZER = {"optimizer.eps", "optimizer.lr", "optimizer.max-norm", "optimizer.weight-decay", "scheduler.lr-final",
             "scheduler.max-steps"}  # fmt: skip
MLP = {
    "--pipeline.model.geometry." + name
    for name in ("color-dim", "color-layers", "expression-warp", "hidden-dim", "num-coarse-samples",
                 "num-importance-samples", "num-layers", "position-frequencies", "skip-layer")
} | {"--pipeline.model.loss-coefficients.rgb-loss-coarse",
     "--pipeline.model.loss-coefficients.rgb-loss-fine"}  # fmt: skip
TRIPLANE = {
    "--pipeline.model.geometry." + name
    for name in ("decoder-dim", "decoder-layers", "expression-warp", "min-render-weight", "num-proposal-samples",
                 "num-samples",
                 "occupancy-conditions", "occupancy-every", "occupancy-resolution", "occupancy-threshold",
                 "plane-channels", "plane-gains", "plane-resolutions", "plane-tv-mult", "skip-empty-space")
} | {"--pipeline.model.loss-coefficients.rgb-loss-fine"}  # fmt: skip
GAUSSIANS = {
    "--pipeline.model.geometry." + name
    for name in ("factor-rank", "feature-dim", "hidden-dim", "initial-opacity", "num-free-gaussians", "num-layers",
                 "num-mesh-gaussians", "seed", "teeth-gaussians", "view-dependence")
} | {"--pipeline.model.loss-coefficients.rgb-loss-fine", "--pipeline.datamanager.in-box-fraction",
     "--pipeline.datamanager.mouth-fraction",
     "--pipeline.datamanager.balance-identities"}  # fmt: skip
WHOLE_IMAGES_HIDE = {  # rays and their chunks: not options of a whole-image method
    "--pipeline.datamanager.eval-num-rays-per-batch", "--pipeline.datamanager.train-num-rays-per-batch",
    "--pipeline.datamanager.pixel-sampler.in-box-fraction", "--pipeline.datamanager.pixel-sampler.one-frame-per-batch",
    "--pipeline.datamanager.pixel-sampler.mouth-fraction",
    "--pipeline.model.eval-num-rays-per-chunk", "--pipeline.model.geometry.direction-frequencies",
}  # fmt: skip
DATAPARSER = {"--data", "--near-margin", "--far-margin", "--scene-box-radius", "--default-background", "--background",
              "--identities", "--help"}  # fmt: skip


def allowed(method: str) -> set[str]:
    """The options ``ns-train <method> --help`` may show."""
    gaussians = method == "mi-gaussians"
    groups = ("fields", "codes") + (("grids",) if "fast" in method else GAUSSIAN_GROUPS if gaussians else ())
    optimizers = {f"--optimizers.{group.replace('_', '-')}.{option}" for group in groups for option in OPTIMIZER}
    common = NERFSTUDIO_TRAINER | DATAMANAGER | MODEL | optimizers
    if gaussians:
        return (common - WHOLE_IMAGES_HIDE) | GAUSSIANS
    return common | (TRIPLANE if "fast" in method else MLP)


def ns_train_help(*args: str) -> str:
    """What ``ns-train <args> --help`` prints, run through ns-train's own entry point in this process."""
    from nerfstudio.scripts.train import entrypoint

    out, argv = io.StringIO(), sys.argv
    sys.argv = ["ns-train", *args, "--help"]
    try:
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            entrypoint()
    finally:
        sys.argv = argv
    return re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())


def listed_options(text: str) -> set[str]:
    """The options a tyro help text lists (each at the start of its row of the box)."""
    return set(re.findall(r"^[│ ]*(?:-h, )?(--[a-z0-9][a-z0-9._-]*[a-z0-9])(?=\s|$)", text, flags=re.MULTILINE))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_help_shows_only_the_options_that_work(method, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # one column of option groups (wider terminals get several side by side)
    text = ns_train_help(method)
    options = listed_options(text)
    assert options == allowed(method), (
        f"not allowed: {sorted(options - allowed(method))}; missing: {sorted(allowed(method) - options)}"
    )
    # The one dataparser: nerfstudio's fifteen others (no expressions, no identities) are not sub-commands.
    assert re.search(r"\[\{mi-nerf-data\}\]", text) and "nerfstudio-data" not in text
    assert listed_options(ns_train_help(method, "mi-nerf-data")) == DATAPARSER


def test_the_dataparser_sub_command_still_parses(train_dataset):
    from nerfstudio.configs.method_configs import AnnotatedBaseConfigUnion

    args = ["mi-nerf-fast", "--data", str(train_dataset), "mi-nerf-data", "--identities", "ada"]
    args += ["--background", "static"]
    config = tyro.cli(AnnotatedBaseConfigUnion, args=args)
    parser = config.pipeline.datamanager.dataparser
    assert type(parser).__name__ == "MiNerfDataParserConfig"
    assert parser.identities == ("ada",) and parser.background == "static"
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        tyro.cli(AnnotatedBaseConfigUnion, args=["mi-nerf-fast", "nerfstudio-data"])


@pytest.fixture(scope="module")
def small_pipeline(train_dataset, tmp_path_factory):
    """A mi-nerf-small pipeline on the shared synthetic dataset at half resolution (camera-res-scale-factor 0.5)."""
    config = copy.deepcopy(METHODS["mi-nerf-small"].config)
    config.pipeline.datamanager.data = train_dataset
    config.pipeline.datamanager.train_num_rays_per_batch = 64
    config.pipeline.datamanager.camera_res_scale_factor = 0.5
    config.pipeline.model.geometry.num_coarse_samples = 8
    config.pipeline.model.geometry.num_importance_samples = 8
    configure_run(config, tmp_path_factory.mktemp("options"), "test", 1, device="cpu", seed=0)
    return start_trainer(config).pipeline


def test_loss_coefficients_scale_each_colour_loss(small_pipeline):
    model = small_pipeline.model
    ray_bundle, batch = small_pipeline.datamanager.next_train(0)
    outputs = model(ray_bundle)
    plain = model.get_loss_dict(outputs, batch)
    model.config.loss_coefficients = {"rgb_loss_coarse": 0.25, "rgb_loss_fine": 3.0}
    try:
        scaled = model.get_loss_dict(outputs, batch)
    finally:
        model.config.loss_coefficients = {"rgb_loss_coarse": 1.0, "rgb_loss_fine": 1.0}
    assert float(plain["rgb_loss_coarse"]) > 1e-3
    assert torch.isclose(scaled["rgb_loss_coarse"], 0.25 * plain["rgb_loss_coarse"])
    assert torch.isclose(scaled["rgb_loss_fine"], 3.0 * plain["rgb_loss_fine"])
    assert torch.isclose(scaled["latent_reg"], plain["latent_reg"])  # the regularizers keep their own weights


def test_camera_res_scale_factor_halves_images_boxes_and_backgrounds(small_pipeline, train_dataset):
    dataset = small_pipeline.datamanager.train_dataset
    item = dataset[0]
    full = dataset.cameras.height[0, 0] / 0.5  # the cameras are scaled by the datamanager
    assert item["image"].shape[:2] == (int(full) // 2, int(full) // 2)
    assert item["head_box"].shape[:2] == item["image"].shape[:2] == item["bg"].shape[:2]
    assert 0.05 < float(item["head_box"].float().mean()) < 0.95  # a box, not the whole image
    assert item["mouth_box"].shape == item["head_box"].shape  # the mouth box at the loaded size, inside the head box
    assert 0.0 < float(item["mouth_box"].float().mean()) < 0.1 and bool(item["head_box"][item["mouth_box"]].all())
    assert small_pipeline.model.collider is not None  # built once, from the dataset's planes
    assert small_pipeline.model.collider.near_plane == small_pipeline.model.catalogue.near

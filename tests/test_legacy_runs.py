"""Runs trained before the one-model redesign (tests/data/legacy-runs, written by main at 1a73cfe) still load: their
config classes and checkpoint keys are mapped (minerf_ns/legacy.py), ns-eval gives the PSNR they gave then, and
ns-render and minerf-render work on them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from nerfstudio_cli import run, together
from PIL import Image

from minerf_ns.geometry import MlpGeometryConfig, TriplaneGeometryConfig
from minerf_ns.model import MiNerfModelConfig, upgrade_state_dict
from minerf_ns.synthetic.dataset_writer import SynthSettings, generate

LEGACY = Path(__file__).parent / "data" / "legacy-runs" / "outputs"
RUNS = {"small": "outputs/small/mi-nerf-small/legacy", "fast": "outputs/fast/mi-nerf-fast/legacy"}
PSNR_AT_1A73CFE = {"small": (11.8309, 12.9002), "fast": (16.7718, 14.9859)}
"""ns-eval's psnr and head_psnr on these runs with the code that trained them (tests/data/legacy-runs/README.md)."""


@pytest.fixture(scope="module")
def legacy_root(tmp_path_factory) -> Path:
    """A folder with the old runs (outputs/...) and their regenerated dataset (data/), as the runs' configs expect."""
    root = tmp_path_factory.mktemp("legacy")
    shutil.copytree(LEGACY, root / "outputs")
    generate(root / "data", SynthSettings(num_identities=2, num_frames=10, image_size=32, seed=5), False, workers=1)
    return root


@pytest.mark.parametrize("run_name", sorted(RUNS))
def test_old_configs_and_checkpoints_map_onto_the_current_model(legacy_root, run_name, monkeypatch):
    from nerfstudio.utils.eval_utils import eval_setup

    monkeypatch.chdir(legacy_root)
    config_path = Path(RUNS[run_name]) / "config.yml"
    config = yaml.load(config_path.read_text(), Loader=yaml.Loader)
    model_config = config.pipeline.model
    assert type(model_config) is MiNerfModelConfig  # the legacy class turned itself into the current one
    if run_name == "fast":
        assert isinstance(model_config.geometry, TriplaneGeometryConfig)
        assert model_config.geometry.plane_resolutions == (8, 16) and model_config.geometry.decoder_dim == 16
    else:
        assert isinstance(model_config.geometry, MlpGeometryConfig)
        assert (model_config.geometry.hidden_dim, model_config.geometry.num_layers) == (32, 3)
    saved_again = yaml.dump(config)
    assert (
        "fast_model" not in saved_again
        and "trainer_config" not in saved_again
        and "minerf_ns.trainer." not in saved_again
    )
    # Every old checkpoint key maps onto exactly the current model's keys, and the weights are the old ones.
    checkpoint = sorted((Path(RUNS[run_name]) / "nerfstudio_models").glob("*.ckpt"))[0]
    old = torch.load(checkpoint, map_location="cpu", weights_only=True)["pipeline"]
    _, pipeline, _, step = eval_setup(config_path, test_mode="test")
    assert step == 39
    state = {k.removeprefix("_model."): v for k, v in old.items()}
    upgrade_state_dict(pipeline.model, state, "")
    current = pipeline.model.state_dict()
    assert sorted(state) == sorted(current)
    assert all(torch.equal(state[k], current[k]) for k in current)


def test_ns_eval_gives_the_old_psnr_and_ns_render_and_minerf_render_work(legacy_root):
    renders = legacy_root / "renders"
    evals = {name: legacy_root / f"eval-{name}.json" for name in PSNR_AT_1A73CFE}
    together([  # independent commands, two at a time
        *[lambda name=name, out=out: run("ns-eval", "--load-config", f"{RUNS[name]}/config.yml", "--output-path",
                                          str(out), cwd=legacy_root) for name, out in evals.items()],
        lambda: run("ns-render", "dataset", "--load-config", f"{RUNS['fast']}/config.yml", "--output-path",
                    str(renders), "--split", "test", "--rendered-output-names", "rgb", cwd=legacy_root),
        lambda: run("minerf-render", "transfer", "--load-config", f"{RUNS['small']}/config.yml", "--identity", "ada",
                    "--expressions-from", "ben", "--output-format", "images", "--output-path",
                    str(legacy_root / "t.mp4"), "--max-frames", "2", cwd=legacy_root),
    ])  # fmt: skip
    for run_name, (psnr, head_psnr) in PSNR_AT_1A73CFE.items():
        results = json.loads(evals[run_name].read_text())["results"]
        assert results["psnr"] == pytest.approx(psnr, abs=0.01) and results["head_psnr"] == pytest.approx(
            head_psnr, abs=0.01
        )
    frames = sorted((renders / "test" / "rgb").rglob("*.jpg"))  # rgb/<name>/head_imgs/<k>.jpg
    assert len(frames) == 2 and np.asarray(Image.open(frames[0])).shape == (32, 32, 3)
    assert len(list((legacy_root / "t").glob("*.png"))) == 2

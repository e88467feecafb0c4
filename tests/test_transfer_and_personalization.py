"""Expression transfer, its evaluation against exact ground truth, and personalization, through the real console
scripts on a tiny `mi-nerf-fast` model trained on 2 of the 3 identities of a synthetic dataset (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nerfstudio_cli import EXPRESSION_DIM, IDENTITY_CODES, INTERACTION, LATENT_CODES, PLANES, fails, run, together
from PIL import Image

from minerf_ns.provenance.verify import verify
from nerfstudio.engine.callbacks import TrainingCallbackLocation

FRAMES = 20  # per video of the synth_dataset fixture; 18 train, 2 held out


def state(run_dir: Path) -> dict:
    ckpt = sorted((run_dir / "nerfstudio_models").glob("step-*.ckpt"))[-1]
    return torch.load(ckpt, map_location="cpu", weights_only=True)["pipeline"]


def png_frames(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p), dtype=np.float32) / 255.0 for p in sorted(folder.glob("*.png"))]


def test_render_transfer_writes_video_and_frames_driven_by_another_video(trained_two_of_three, tmp_path):
    config = str(trained_two_of_three / "config.yml")
    for source in ("ben", "ada"):
        run("minerf-render", "transfer", "--load-config", config, "--identity", "ada", "--expressions-from", source,
            "--pose", "own", "--output-format", "both", "--output-path", str(tmp_path / f"{source}.mp4"),
            "--max-frames", "4", cwd=tmp_path)  # fmt: skip
    video = (tmp_path / "ben.mp4").read_bytes()
    assert len(video) > 1000 and video[4:8] == b"ftyp"
    driven, own = png_frames(tmp_path / "ben"), png_frames(tmp_path / "ada")
    assert len(driven) == len(own) == 4 and driven[0].shape == (64, 64, 3)
    # Same identity, same poses, same latent: only the expressions differ (ben's vs ada's own).
    assert float(np.abs(driven[1] - own[1]).max()) > 0.0


def test_render_transfer_from_an_expression_file_under_an_orbit(trained_two_of_three, tmp_path):
    expressions = np.zeros((5, EXPRESSION_DIM), dtype=np.float32)
    expressions[:, 0] = np.linspace(0, 1, 5)
    np.save(tmp_path / "exp.npy", expressions)
    torch.save({"exp": torch.from_numpy(expressions[:3])}, tmp_path / "track_params.pt")
    config = str(trained_two_of_three / "config.yml")
    run("minerf-render", "transfer", "--load-config", config, "--identity", "ben", "--expressions",
        str(tmp_path / "exp.npy"), "--pose", "orbit", "--output-format", "images", "--output-path",
        str(tmp_path / "orbit.mp4"), cwd=tmp_path)  # fmt: skip
    frames = png_frames(tmp_path / "orbit")
    assert len(frames) == 5 and float(np.abs(frames[0] - frames[2]).mean()) > 0.005  # the camera moved
    run("minerf-render", "transfer", "--load-config", config, "--identity", "ben", "--expressions",
        str(tmp_path / "track_params.pt"), "--pose", "fixed", "--output-format", "images", "--output-path",
        str(tmp_path / "fixed.mp4"), "--no-watermark", cwd=tmp_path)  # fmt: skip
    assert len(png_frames(tmp_path / "fixed")) == 3
    # By default every frame carries the watermark and the statement; --no-watermark keeps only the statement.
    marked, plain = verify(tmp_path / "orbit" / "00000.png"), verify(tmp_path / "fixed" / "00000.png")
    assert marked.reading.marked and marked.payload_matches is True and marked.statement["identities"] == ["ben"]
    assert not plain.reading.marked and plain.statement["watermark"] is None and plain.synthetic


def test_render_transfer_bad_input_gives_one_line(trained_two_of_three, tmp_path):
    config = str(trained_two_of_three / "config.yml")
    base = ["minerf-render", "transfer", "--load-config", config]
    np.save(tmp_path / "wrong.npy", np.zeros((4, 7), dtype=np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, EXPRESSION_DIM), dtype=np.float32))
    (tmp_path / "mine.mp4").write_bytes(b"keep")
    cases = [  # (arguments, what stderr says); each its own output: they run two at a time
        (["--identity", "zoe", "--expressions-from", "ben"], ["unknown identity 'zoe'", "ada, ben"]),
        (["--identity", "ada", "--expressions", str(tmp_path / "wrong.npy")],
         ["wrong.npy", "7-d but the model takes 53-d"]),
        (["--identity", "ada", "--expressions", str(tmp_path / "empty.npy")], ["empty.npy", "non-empty"]),
    ]  # fmt: skip
    calls = [lambda k=k, a=a: fails(*base, *a, "--output-path", str(tmp_path / f"o{k}.mp4"), cwd=tmp_path)
             for k, (a, _) in enumerate(cases)]  # fmt: skip
    calls.append(lambda: fails(*base, "--identity", "ada", "--expressions-from", "ben", "--output-path",
                               str(tmp_path / "mine.mp4"), cwd=tmp_path))  # fmt: skip
    errors = together(calls)
    for (_, expected), err in zip(cases, errors):
        assert all(text in err for text in expected), err
    assert "already exists" in errors[-1] and (tmp_path / "mine.mp4").read_bytes() == b"keep"
    assert not list(tmp_path.glob("o*.mp4"))


def test_eval_transfer_scores_every_pair_and_writes_figures(trained_two_of_three, tmp_path):
    out = tmp_path / "eval"
    run("minerf-eval", "transfer", "--load-config", str(trained_two_of_three / "config.yml"), "--output-dir",
        str(out), cwd=tmp_path)  # fmt: skip
    result = json.loads((out / "transfer.json").read_text())
    assert sorted(result["pairs"]) == ["ada", "ben"]  # the model's identities
    assert all(sorted(row) == ["ada", "ben", "cleo"] for row in result["pairs"].values())  # every driving video
    # Measured on this 30-iteration model: transfer 18.97 dB / SSIM 0.550 on the head box, self-reenactment 18.96 /
    # 0.550 (after 30 iterations the expression barely matters yet); the tri-plane backward on a CPU is not
    # bit-reproducible, hence the margins.
    for summary in (result["transfer"], result["self_reenactment"]):
        assert summary["head_psnr"] == pytest.approx(18.97, abs=0.5), summary
        assert summary["head_ssim"] == pytest.approx(0.550, abs=0.03), summary
    # The pixels another expression changes (the mouth, mostly): 18.99 dB measured, level with the head box around
    # them now that a quarter of the rays are drawn in the mouth box (0.33 dB below it before); one's own frames have
    # none.
    assert result["transfer"]["expression_psnr"] == pytest.approx(18.99, abs=0.5)
    assert abs(result["transfer"]["expression_psnr"] - result["transfer"]["head_psnr"]) < 0.5
    assert result["transfer"]["expression_pixels"] == pytest.approx(0.0367, abs=0.002)
    assert "expression_psnr" not in result["self_reenactment"]
    assert result["method"] == "mi-nerf-fast" and result["interaction"] == "multiplicative"
    grid = np.asarray(Image.open(out / "transfer_grid.png"))
    assert grid.shape == (2 * 192, 3 * 192, 3)  # identities x driving videos, 64 px enlarged x3
    for name in ("identity_codes.png", "singular_values.png"):
        assert Image.open(out / name).size[0] > 300


def test_personalize_a_seen_identity_keeps_the_interaction_module_frozen(trained_two_of_three, tmp_path):
    before = state(trained_two_of_three)
    run("minerf-personalize", "--load-config", str(trained_two_of_three / "config.yml"), "--identities", "ben",
        "--iterations", "3", "--output-dir", str(tmp_path / "outputs"), cwd=tmp_path)  # fmt: skip
    run_dir = sorted((tmp_path / "outputs").rglob("config.yml"))[-1].parent
    after = state(run_dir)
    assert after[IDENTITY_CODES].shape == (1, EXPRESSION_DIM)
    assert after[LATENT_CODES].shape == (FRAMES - 2, 32)
    for key in [k for k in before if k.startswith(INTERACTION)]:
        assert torch.equal(before[key], after[key]), key  # frozen
    moved = (after[IDENTITY_CODES][0] - before[IDENTITY_CODES][1]).abs().max()
    assert 0.0 < float(moved) < 0.05  # started from ben's trained code, a few small steps
    grid = PLANES.format(0)
    assert 0.0 < float((after[grid] - before[grid]).abs().max()) < 1e-3  # network at lr 1e-5
    run("ns-eval", "--load-config", str(run_dir / "config.yml"), "--output-path", str(tmp_path / "e.json"),
        cwd=tmp_path)  # fmt: skip


def test_personalize_a_new_identity_from_a_short_clip(trained_two_of_three, synth_dataset, tmp_path):
    before = state(trained_two_of_three)
    run("minerf-personalize", "--load-config", str(trained_two_of_three / "config.yml"), "--data",
        str(synth_dataset[0]), "--identities", "cleo", "--iterations", "3", "--output-dir",
        str(tmp_path / "outputs"), cwd=tmp_path)  # fmt: skip
    run_dir = sorted((tmp_path / "outputs").rglob("config.yml"))[-1].parent
    after = state(run_dir)
    start = before[IDENTITY_CODES].mean(dim=0)  # a new identity starts from the mean code
    assert float((after[IDENTITY_CODES][0] - start).abs().max()) < 0.05
    out = tmp_path / "eval"
    run("minerf-eval", "transfer", "--load-config", str(run_dir / "config.yml"), "--output-dir", str(out),
        "--no-figures", cwd=tmp_path)  # fmt: skip
    assert sorted(json.loads((out / "transfer.json").read_text())["pairs"]) == ["cleo"]


def test_personalize_codes_only_keeps_the_network_exactly(trained_two_of_three, synth_dataset, tmp_path):
    """Codes only (--codes-only-iterations = --iterations): the network is exactly the trained one; only the new
    identity's codes move (at a network rate that would move it)."""
    before = state(trained_two_of_three)
    run("minerf-personalize", "--load-config", str(trained_two_of_three / "config.yml"), "--data",
        str(synth_dataset[0]), "--identities", "cleo", "--iterations", "3", "--codes-only-iterations", "3",
        "--lr", "1e-3", "--output-dir", str(tmp_path / "outputs"), cwd=tmp_path)  # fmt: skip
    after = state(sorted((tmp_path / "outputs").rglob("config.yml"))[-1].parent)
    network = [k for k in before if k.startswith(("_model.geometry.", "_model.conditioning.smoothing.", INTERACTION))
               and "occupancy" not in k]  # fmt: skip
    assert len(network) > 20 and [k for k in network if not torch.equal(before[k], after[k])] == []
    assert float((after[IDENTITY_CODES][0] - before[IDENTITY_CODES].mean(dim=0)).abs().max()) > 1e-4


def test_codes_only_stage_releases_the_network_but_not_the_interaction_module():
    from minerf_ns.personalization import codes_only_until

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.interaction, self.geometry = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
            self.interaction.requires_grad_(False)  # frozen by the personalization config

        def network_modules(self) -> dict:
            return {"interaction": self.interaction, "geometry": self.geometry}

    model = Model()
    callback = codes_only_until(model, 2)
    trainable = []
    for step in range(4):
        callback.run_callback_at_location(step, TrainingCallbackLocation.BEFORE_TRAIN_ITERATION)
        trainable.append([p.requires_grad for p in (model.geometry.weight, model.interaction.weight)])
    assert trainable == [[False, False], [False, False], [True, False], [True, False]]


def test_personalizing_twice_keeps_both_runs(trained_two_of_three, tmp_path):
    """Each personalization writes its own run folder; an earlier one is never replaced (its checkpoint was lost
    before: the copied config kept the source run's timestamp)."""
    base = ["minerf-personalize", "--load-config", str(trained_two_of_three / "config.yml"), "--iterations", "1",
            "--output-dir", str(tmp_path / "outputs"), "--experiment-name", "same"]  # fmt: skip
    run(*base, "--identities", "ada", cwd=tmp_path)
    run(*base, "--identities", "ben", cwd=tmp_path)
    runs = sorted(p.parent for p in (tmp_path / "outputs").rglob("config.yml"))
    assert len(runs) == 2 and trained_two_of_three not in runs
    assert all(len(list((r / "nerfstudio_models").glob("*.ckpt"))) == 1 for r in runs)
    names = {r.name for r in runs}  # timestamps (a suffix when two fall in one second), not the source run's
    assert len(names) == 2 and trained_two_of_three.name not in names
    before = state(trained_two_of_three)[IDENTITY_CODES]
    codes = [state(r)[IDENTITY_CODES][0] for r in runs]  # by timestamp: ada's run, then ben's
    assert all(float((code - before[k]).abs().max()) < 0.05 for k, code in enumerate(codes))


@pytest.mark.parametrize("missing", ["config", "identity"])
def test_personalize_bad_input_gives_one_line(trained_two_of_three, tmp_path, missing):
    config = str(tmp_path / "nope.yml") if missing == "config" else str(trained_two_of_three / "config.yml")
    err = fails("minerf-personalize", "--load-config", config, "--identities", "zoe", "--iterations", "1",
                "--output-dir", str(tmp_path / "outputs"), cwd=tmp_path)  # fmt: skip
    assert ("nope.yml: no such config" in err) if missing == "config" else ("no video named zoe" in err)
    assert not (tmp_path / "outputs").exists() or missing == "identity"


def test_personalization_rates_per_group():
    """--lr for the network, --code-lr for the codes, --grid-lr for a tri-plane's grids (default: --lr); each decays to
    a tenth; the interaction module is frozen."""
    from minerf_ns.config import mi_nerf_fast_method
    from minerf_ns.personalization import personalization_config

    config = mi_nerf_fast_method.config
    plain = personalization_config(config, None, ("cleo",), lr=1e-3, code_lr=2e-3)
    grids = personalization_config(config, None, ("cleo",), lr=1e-3, code_lr=2e-3, grid_lr=1e-2)
    assert {name: g["optimizer"].lr for name, g in plain.optimizers.items()} == {
        "fields": 1e-3, "codes": 2e-3, "grids": 1e-3
    }  # fmt: skip
    assert {name: g["optimizer"].lr for name, g in grids.optimizers.items()} == {
        "fields": 1e-3, "codes": 2e-3, "grids": 1e-2
    }  # fmt: skip
    assert grids.optimizers["grids"]["scheduler"].lr_final == pytest.approx(1e-3)
    assert grids.pipeline.model.freeze_interaction and grids.pipeline.datamanager.dataparser.identities == ("cleo",)
    assert config.optimizers["grids"]["optimizer"].lr == 2e-2  # the method's own config is untouched

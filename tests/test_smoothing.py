"""Temporal smoothing (paper appendix E): windows of neighbours, the attention's start and switch, its effect on a
jittered sequence of conditions, and that a trained run switches it on and saves it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_training import make_config

from minerf_ns.conditioning import CodeBook, Conditioning
from minerf_ns.contract import (
    CENTRE,
    EXPRESSION_WINDOW,
    FRAME_WINDOW,
    UNSEEN_FRAME,
    WINDOW,
    Condition,
    camera_metadata,
    sequence_windows,
    window_rows,
)
from minerf_ns.smoothing import CENTRE_WEIGHT, TemporalAttention
from minerf_ns.training import iteration_with_callbacks, start_trainer


def test_windows_are_the_neighbours_clamped_at_the_sequence_ends():
    rows = window_rows(torch.tensor([0, 5, 9]), 10)
    assert WINDOW == 8 and rows.shape == (3, 8)
    assert rows[0].tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    assert rows[1].tolist() == [1, 2, 3, 4, 5, 6, 7, 8] and rows[1, CENTRE] == 5
    assert rows[2].tolist() == [5, 6, 7, 8, 9, 9, 9, 9]
    expressions, frames = sequence_windows(torch.arange(10.0)[:, None].expand(10, 2), torch.arange(10) + 100)
    assert expressions.shape == (10, 8, 2) and expressions[5, :, 0].tolist() == list(range(1, 9))
    assert frames[9].tolist() == [105, 106, 107, 108, 109, 109, 109, 109]
    assert (sequence_windows(torch.zeros(3, 2))[1] == UNSEEN_FRAME).all()  # a driving sequence has no latents


def test_a_still_frame_repeats_itself_and_its_condition_is_unchanged_by_any_weights():
    meta = Condition(torch.ones(4), identity=1, frame=3).camera_metadata()
    assert meta[EXPRESSION_WINDOW].shape == (1, 8 * 4) and meta[FRAME_WINDOW].tolist() == [[3] * 8]
    torch.manual_seed(0)
    attention = TemporalAttention(6)
    attention.switch_on()
    window = torch.randn(5, 1, 6).expand(5, WINDOW, 6)
    assert torch.allclose(attention(window), window[:, 0], atol=1e-6)


def test_the_attention_starts_at_the_centre_weight_and_is_off_until_switched_on():
    torch.manual_seed(0)
    attention = TemporalAttention(6)
    window = torch.randn(4, WINDOW, 6)
    assert torch.equal(attention(window), window[:, CENTRE])  # off: the frame itself
    weights = attention.weights(window)
    assert torch.allclose(weights.sum(-1), torch.ones(4))
    assert weights[:, CENTRE].min() > CENTRE_WEIGHT - 0.02 and weights[:, CENTRE].max() < CENTRE_WEIGHT + 0.02
    attention.switch_on()
    copy = TemporalAttention(6)
    copy.load_state_dict(attention.state_dict())  # the switch is saved with the weights
    assert copy.is_active and torch.allclose(copy(window), attention(window))


def test_smoothing_lowers_the_jitter_of_conditions_from_noisy_tracks():
    """A smooth expression curve tracked with noise: the smoothed conditions follow the true curve's conditions more
    closely, frame to frame, than the unsmoothed ones, with the weights the attention starts from (measured: temporal
    error 0.71x, condition error 0.75x)."""
    torch.manual_seed(0)
    frames, dim = 60, 6
    t = torch.linspace(0, 2 * np.pi, frames)[:, None]
    true = 0.5 + 0.3 * torch.sin(t + torch.arange(dim))
    tracked = true + 0.1 * torch.randn(frames, dim)
    conditioning = Conditioning(CodeBook(torch.zeros(frames, dtype=torch.long), 1, dim, 0), "multiplicative", 2, 2)

    def conditions(expressions: torch.Tensor, smoothed: bool) -> torch.Tensor:
        windows, frame_windows = sequence_windows(expressions)
        meta = camera_metadata(expressions, torch.zeros(frames, dtype=torch.long),
                               torch.full((frames,), UNSEEN_FRAME), None, windows, frame_windows)  # fmt: skip
        conditioning.smoothing.is_active = smoothed
        with torch.no_grad():
            return conditioning(meta).vector

    target = conditions(true, False)
    raw, smooth = conditions(tracked, False), conditions(tracked, True)

    def temporal_error(x: torch.Tensor) -> float:
        return float((x.diff(dim=0) - target.diff(dim=0)).abs().mean())

    ratio = temporal_error(smooth) / temporal_error(raw)
    error_ratio = float((smooth - target).abs().mean() / (raw - target).abs().mean())
    print(f"temporal error ratio {ratio:.3f}, condition error ratio {error_ratio:.3f}")
    assert ratio < 0.8 and error_ratio < 0.85


@pytest.mark.parametrize(("after", "active"), [(0.5, True), (1.0, False)])
def test_training_switches_the_smoothing_on_after_its_fraction(train_dataset, tmp_path, after, active):
    config = make_config(train_dataset, "mi-nerf-fast", tmp_path, 4, rays=64)
    config.pipeline.model.smoothing_after = after
    trainer = start_trainer(config)
    smoothing = trainer.pipeline.model.conditioning.smoothing
    switched = []
    for step in range(4):
        iteration_with_callbacks(trainer, step)
        switched.append(smoothing.is_active)
    assert switched == ([False, False, True, True] if active else [False] * 4)
    assert bool(smoothing.active) == active

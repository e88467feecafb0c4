"""The viewer controls without a browser: the condition they give the model, a clicked training frustum, and
playback paced by renders (it never runs ahead of what the viewer can show)."""

from __future__ import annotations

import threading
import time

import torch

from minerf_ns.catalogue import VideoCatalogue
from minerf_ns.contract import UNSEEN_FRAME, VideoIntrinsics
from minerf_ns.viewer_controls import ViewerControls


def catalogue() -> VideoCatalogue:
    """ada: 4 frames (train 0-2, frame 3 held out); ben: 3 frames (train 3-4)."""
    return VideoCatalogue(
        identity_names=["ada", "ben"],
        expressions=[torch.arange(4.0)[:, None].expand(4, 2), 10 + torch.arange(3.0)[:, None].expand(3, 2)],
        train_frame_index=[torch.tensor([0, 1, 2, -1]), torch.tensor([3, 4, -1])],
        camera_to_worlds=[torch.eye(4)[:3].expand(4, 3, 4), torch.eye(4)[:3].expand(3, 3, 4)],
        intrinsics=[VideoIntrinsics(50, 50, 16, 16, 32, 32)] * 2,
        backgrounds=[torch.zeros(32, 32, 3, dtype=torch.uint8)] * 2,
        near=0.5,
        far=1.5,
    )


def test_the_controls_choose_identity_expression_and_latent():
    controls = ViewerControls(catalogue())
    assert not controls.active  # no viewer installed them
    first = controls.condition(None)
    assert first.identity == 0 and first.frame == 0 and torch.equal(first.expression, torch.zeros(2))
    controls.identity.value, controls.expression_video.value, controls.frame.value = "ada", "ben", 1
    transfer = controls.condition(None)  # ada with ben's expression 1: not ada's latent
    assert transfer.identity == 0 and transfer.frame == UNSEEN_FRAME and float(transfer.expression[0]) == 11.0
    clicked = controls.condition(4)  # ben's train frame 4 = his frame 1
    assert (clicked.identity, clicked.frame) == (1, 4) and controls.identity.value == "ben"
    assert controls.frame_camera()[1] > 0  # the vertical field of view


def test_playback_waits_for_each_render_and_caps_the_frame_rate():
    controls = ViewerControls(catalogue(), play_fps=25.0, render_timeout=2.0)
    shown = []
    controls.frame.cb_hook = lambda element: shown.append(int(element.value))
    controls.play.value = True
    controls._on_play(controls.play)
    time.sleep(0.3)
    waiting = len(shown)  # no render came: one frame asked for, then waiting for it
    stop = threading.Event()

    def renderer() -> None:  # a viewer that renders 20 images a second
        while not stop.is_set():
            time.sleep(0.05)
            controls.rendered()

    thread = threading.Thread(target=renderer, daemon=True)
    thread.start()
    time.sleep(1.0)
    controls.play.value = False
    stop.set()
    thread.join()
    assert waiting == 1
    # About 20 renders a second, under the 25 frames/s cap: 15-22 frames in that second; cycling through ada's 4.
    assert 15 <= len(shown) - waiting <= 22, len(shown)
    assert set(shown) <= {0, 1, 2, 3}

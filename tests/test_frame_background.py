"""Each frame's own background (issue 19): the frame itself outside its head mask, the static background behind the
head; where the dataparser uses it, and where renders keep the static one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dataparsers.frame_background import head_mask
from dataparsers.head_dataset import HeadDataset
from dataparsers.minerf_dataparser import MiNerfDataParserConfig
from minerf_ns.catalogue import CATALOGUE
from minerf_ns.contract import BACKGROUND, IDENTITY, NO_SOURCE_FRAME, SOURCE_FRAME
from minerf_ns.layout import PARSING_NECK_BGR


@pytest.fixture(scope="module")
def full_frames(synth_dataset, tmp_path_factory) -> Path:
    """The synthetic dataset as minerf-track writes real video: whole frames in ori_imgs/ (with the neck, which the
    head mask leaves out)."""
    root = tmp_path_factory.mktemp("full") / "data"
    shutil.copytree(synth_dataset[0], root, ignore=shutil.ignore_patterns("_ground_truth"))
    for video in root.iterdir():
        (video / "head_imgs").rename(video / "ori_imgs")
    return root


def _dataset(root: Path, mode: str = "auto", split: str = "train") -> HeadDataset:
    outputs = MiNerfDataParserConfig(data=root, background=mode).setup().get_dataparser_outputs(split)
    return HeadDataset(outputs)


def test_per_frame_background_is_the_frame_outside_the_head(full_frames):
    dataset = _dataset(full_frames)
    catalogue = dataset.metadata[CATALOGUE]
    assert catalogue.frame_backgrounds.enabled == [True, True, True]  # whole frames with parsing: per-frame
    for idx in (0, 7, 20):
        item = dataset[idx]
        background, image = item[BACKGROUND], (item["image"] * 255).round().to(torch.uint8)
        height, width = background.shape[:2]
        identity = int(dataset.cameras.metadata[IDENTITY][idx, 0])
        row = int(dataset.cameras.metadata[SOURCE_FRAME][idx, 0])
        head = head_mask(dataset.metadata["parsing_filenames"][idx], None, height, width)
        assert 0.1 < head.mean() < 0.4
        static = catalogue.background(identity, height, width)
        assert torch.equal(background[~torch.from_numpy(head)], image[~torch.from_numpy(head)])  # the frame itself
        assert torch.equal(background[torch.from_numpy(head)], static[torch.from_numpy(head)])  # the static one
        # the neck is outside the head mask: it comes from the frame, not from the static background
        parsing = np.asarray(Image.open(dataset.metadata["parsing_filenames"][idx]).convert("RGB"))[..., ::-1]
        neck = torch.from_numpy(np.all(parsing == np.array(PARSING_NECK_BGR), axis=-1))
        assert (background[neck].float() - static[neck].float()).abs().mean() > 30
        # renders of that recorded frame get the same background from the catalogue (ns-eval, ns-render dataset)
        assert torch.equal(catalogue.frame_background(identity, row, height, width), background)
        # renders of no recorded frame (novel views, the viewer) get the static one
        assert torch.equal(catalogue.frame_background(identity, NO_SOURCE_FRAME, height, width), static)


def test_static_option_and_head_images_keep_the_static_background(full_frames, synth_dataset):
    for dataset in (_dataset(full_frames, "static"), _dataset(synth_dataset[0], "auto")):
        catalogue = dataset.metadata[CATALOGUE]
        assert not any(catalogue.frame_backgrounds.enabled)
        item = dataset[3]
        identity = int(dataset.cameras.metadata[IDENTITY][3, 0])
        assert torch.equal(item[BACKGROUND], catalogue.background(identity, *item[BACKGROUND].shape[:2]))
    forced = _dataset(synth_dataset[0], "per-frame").metadata[CATALOGUE]
    assert all(forced.frame_backgrounds.enabled)  # head_imgs with masks, when asked for


def test_held_out_frames_carry_their_row_and_transfer_keeps_own_frames(full_frames):
    dataset = _dataset(full_frames, split="val")
    rows = dataset.cameras.metadata[SOURCE_FRAME][:, 0].tolist()
    assert rows == [18, 19] * 3  # the last 10% of each 20-frame video
    from types import SimpleNamespace

    from minerf_ns.transfer import transfer_source_frames

    model = SimpleNamespace(catalogue=dataset.metadata[CATALOGUE])
    assert transfer_source_frames(model, 1, 23, "own") == list(range(20)) + [0, 1, 2]
    assert transfer_source_frames(model, 1, 2, "fixed") == [0, 0]
    assert transfer_source_frames(model, 1, 2, "orbit") == [NO_SOURCE_FRAME] * 2

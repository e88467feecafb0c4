"""The head-box pixel sampler draws 95% of the rays inside each image's head box, the rest anywhere; a share of them
inside the mouth box when asked."""

from __future__ import annotations

import pytest
import torch

from minerf_ns.head_box_pixel_sampler import HeadBoxPixelSamplerConfig, pixel_weights


def test_95_percent_of_rays_fall_in_the_head_box():
    torch.manual_seed(0)
    num_images, height, width, rays = 3, 20, 40, 10_000
    box = torch.zeros(num_images, height, width, 1, dtype=torch.bool)
    box[:, 5:15, 10:30] = True  # a quarter of every image
    batch = {"image": torch.rand(num_images, height, width, 3), "head_box": box,
             "bg": torch.zeros(num_images, height, width, 3, dtype=torch.uint8),
             "image_idx": torch.tensor([7, 8, 9])}  # fmt: skip
    sampler = HeadBoxPixelSamplerConfig(num_rays_per_batch=rays).setup()
    out = sampler.sample(batch)
    c, y, x = out["indices"].T
    assert set(c.tolist()) == {7, 8, 9}  # indices carry the dataset's image indices
    inside = box[c - 7, y, x, 0]
    # 9,500 drawn in the box; of the other 500, drawn anywhere, about a quarter land in it too.
    assert 9500 <= int(inside.sum()) <= 9500 + 125 + 60 and int((~inside).sum()) > 300
    assert out["image"].shape == (rays, 3) and out["bg"].shape == (rays, 3)
    assert torch.equal(out["image"], batch["image"][c - 7, y, x])  # each ray's pixel is the sampled one


def test_one_frame_per_batch_draws_every_ray_from_one_frame():
    torch.manual_seed(0)
    num_images, height, width, rays = 4, 20, 40, 2048
    box = torch.zeros(num_images, height, width, 1, dtype=torch.bool)
    for k in range(num_images):  # a different box per frame: the rays must follow the chosen frame's
        box[k, 2 + k : 10 + k, 5 + 5 * k : 15 + 5 * k] = True
    batch = {"image": torch.rand(num_images, height, width, 3), "head_box": box,
             "bg": torch.zeros(num_images, height, width, 3, dtype=torch.uint8),
             "image_idx": torch.tensor([10, 11, 12, 13])}  # fmt: skip
    sampler = HeadBoxPixelSamplerConfig(num_rays_per_batch=rays, one_frame_per_batch=True).setup()
    seen = set()
    for _ in range(40):
        out = sampler.sample(batch)
        c, y, x = out["indices"].T
        assert len(set(c.tolist())) == 1  # one frame per step
        frame = int(c[0]) - 10
        seen.add(frame)
        inside = box[frame, y, x, 0]
        assert 1946 <= int(inside.sum()) <= 1946 + 102 * 0.1 + 30  # 95% in that frame's box (it is 10% of the frame)
        assert torch.equal(out["image"], batch["image"][frame, y, x])
    assert seen == {0, 1, 2, 3}  # every frame gets drawn


def test_the_mouth_share_of_the_rays_falls_in_each_frames_mouth_box():
    torch.manual_seed(0)
    num_images, height, width, rays = 3, 20, 40, 10_000
    head = torch.zeros(num_images, height, width, 1, dtype=torch.bool)
    head[:, 2:18, 5:35] = True
    mouth = torch.zeros_like(head)
    mouth[0, 12:15, 15:25] = True  # frame 0 and 1 have a mouth box (2 of the 3 frames' head-box pixels' 6%)
    mouth[1, 13:16, 16:26] = True  # frame 2 has none (another expression basis): its share goes to the head box
    batch = {"image": torch.rand(num_images, height, width, 3), "head_box": head, "mouth_box": mouth,
             "bg": torch.zeros(num_images, height, width, 3, dtype=torch.uint8),
             "image_idx": torch.tensor([0, 1, 2])}  # fmt: skip
    out = HeadBoxPixelSamplerConfig(num_rays_per_batch=rays, mouth_fraction=0.25).setup().sample(batch)
    c, y, x = out["indices"].T
    in_mouth = int(mouth[c, y, x, 0].sum())
    # 2,500 drawn in the mouth boxes; the other 7,000 in-box rays land there at its share of the head boxes (60 of
    # 1,440 pixels: about 290), the 500 anywhere at 60 of 2,400 (about 12).
    assert 2500 + 200 <= in_mouth <= 2500 + 400, in_mouth
    assert int(head[c, y, x, 0].sum()) >= 9500
    without = HeadBoxPixelSamplerConfig(num_rays_per_batch=rays).setup().sample(batch)["indices"].T
    assert int(mouth[without[0], without[1], without[2], 0].sum()) < 450  # the default: no share of its own


def test_pixel_weights_give_the_mouth_its_share():
    head = torch.zeros(10, 20, 1, dtype=torch.bool)
    head[2:8, 4:16] = True  # 72 pixels
    mouth = torch.zeros_like(head)
    mouth[5:7, 8:12] = True  # 8 pixels
    weights = pixel_weights(head, 0.95, mouth, 0.25)
    assert float(weights.sum()) == pytest.approx(1.0)
    # a mouth pixel: the anywhere share, the head box's 0.70 over 72 pixels, the mouth's 0.25 over 8
    assert float(weights[5, 8]) == pytest.approx(0.05 / 200 + 0.70 / 72 + 0.25 / 8)
    assert float(weights[mouth[..., 0]].sum()) == pytest.approx(8 * (0.05 / 200 + 0.70 / 72) + 0.25)
    assert torch.equal(pixel_weights(head, 0.95, torch.zeros_like(mouth), 0.25), pixel_weights(head, 0.95))

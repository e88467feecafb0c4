"""The head-box pixel sampler draws 95% of the rays inside each image's head box, the rest anywhere."""

from __future__ import annotations

import torch

from minerf_ns.head_box_pixel_sampler import HeadBoxPixelSamplerConfig


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

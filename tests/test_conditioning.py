"""Conditioning at its seams: the camera metadata contract, the code book's unseen-frame policy and norms, copying
codes by identity name and frame."""

from __future__ import annotations

import pytest
import torch

from minerf_ns.conditioning import CodeBook, Conditioning
from minerf_ns.contract import EXPRESSION, FRAME, IDENTITY, UNSEEN_FRAME, Condition, camera_metadata

# Two videos: video 0 has train frames 0, 1, 2; video 1 has train frames 3, 4.
TRAIN_FRAME_IDENTITY = torch.tensor([0, 0, 0, 1, 1])


def test_camera_metadata_has_the_contract_keys_dtypes_and_shapes():
    meta = camera_metadata(torch.zeros(3, 4, dtype=torch.float64), torch.tensor([0, 1, 1]), torch.tensor([2, -1, 4]))
    assert meta[EXPRESSION].dtype == torch.float32 and meta[EXPRESSION].shape == (3, 4)
    assert meta[IDENTITY].dtype == torch.long and meta[IDENTITY].shape == (3, 1)
    assert meta[FRAME].tolist() == [[2], [-1], [4]]
    one = Condition(torch.ones(4), identity=1).camera_metadata()
    assert (
        one[IDENTITY].tolist() == [[1]] and one[FRAME].tolist() == [[UNSEEN_FRAME]] and one[EXPRESSION].shape == (1, 4)
    )


@pytest.mark.parametrize("policy", ["video-mean", "zero"])
def test_unseen_frames_take_the_video_mean_latent_or_zero(policy):
    torch.manual_seed(0)
    codes = CodeBook(TRAIN_FRAME_IDENTITY, num_identities=2, identity_dim=4, latent_dim=3, unseen_latent=policy)
    weight = codes.latent.weight.detach()
    means = torch.stack([weight[:3].mean(0), weight[3:].mean(0)])
    assert torch.allclose(codes.video_mean_latents(), means)
    latents = codes.latents(torch.tensor([0, 1, 1]), torch.tensor([2, -1, 3]))
    assert torch.equal(latents[0], weight[2]) and torch.equal(latents[2], weight[3])  # seen: their own codes
    expected = means[1] if policy == "video-mean" else torch.zeros(3)
    assert torch.allclose(latents[1], expected)


def test_conditioning_regularises_only_trained_latents_and_is_the_interaction_plus_latent():
    torch.manual_seed(0)
    codes = CodeBook(TRAIN_FRAME_IDENTITY, num_identities=2, identity_dim=4, latent_dim=3)
    conditioning = Conditioning(codes, "multiplicative", rank=2, degree=2)
    assert conditioning.out_dim == 4 + 3
    meta = camera_metadata(torch.randn(2, 4), torch.tensor([0, 1]), torch.tensor([1, UNSEEN_FRAME]))
    result = conditioning(meta)
    assert result.vector.shape == (2, 7)
    code = codes.identity.weight[torch.tensor([0, 1])]
    assert torch.allclose(result.vector[:, :4], conditioning.interaction(meta[EXPRESSION], code))
    assert torch.allclose(result.identity_norm[:, 0], code.norm(dim=-1))
    assert float(result.latent_norm[1]) == 0.0 and float(result.latent_norm[0]) == pytest.approx(
        float(codes.latent.weight[1].norm())
    )
    groups = conditioning.parameter_groups()
    expected = list(conditioning.interaction.parameters()) + list(conditioning.smoothing.parameters())
    assert len(groups["codes"]) == 2 and len(groups["fields"]) == len(expected) == 5 + 12
    frozen = Conditioning(CodeBook(TRAIN_FRAME_IDENTITY, 2, 4, 3), "multiplicative", 2, 2, frozen_interaction=True)
    assert not any(p.requires_grad for p in frozen.interaction.parameters())


def test_codes_are_copied_by_identity_name_and_frame_number():
    torch.manual_seed(0)
    source = CodeBook(TRAIN_FRAME_IDENTITY, num_identities=2, identity_dim=4, latent_dim=3)
    source_tables = [torch.tensor([0, 1, 2, -1]), torch.tensor([3, 4, -1])]
    # The target holds "ben" (source video 1) and a new "cleo"; ben's frames 0 and 2 are trained here.
    target = CodeBook(torch.tensor([0, 0, 1]), num_identities=2, identity_dim=4, latent_dim=3)
    tables = [torch.tensor([0, -1, 1]), torch.tensor([2, -1])]
    counts = target.copy_from(source, ["ada", "ben"], source_tables, ["ben", "cleo"], tables)
    assert counts == {"identities_copied": 1, "identities_new": 1, "latents_copied": 1, "latents_new": 2}
    assert torch.equal(target.identity.weight[0], source.identity.weight[1])
    assert torch.allclose(target.identity.weight[1], source.identity.weight.mean(0))
    assert torch.equal(target.latent.weight[0], source.latent.weight[3])  # ben's frame 0 was train frame 3
    assert torch.allclose(target.latent.weight[1], source.video_mean_latents()[1])  # ben's frame 2 was held out
    assert torch.allclose(target.latent.weight[2], source.latent.weight.mean(0))  # a new identity: global mean

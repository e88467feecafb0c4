"""Conditioning: what every ray carries and how it becomes the field's per-ray condition [M(e, i), l] (pure torch).

The contract (one owner): the dataparser writes, per camera, ``EXPRESSION`` (the frame's 3DMM expression e [d]),
``IDENTITY`` (the video index) and ``FRAME`` (the index of the train frame, ``UNSEEN_FRAME`` for frames not trained
on), ``SOURCE_FRAME`` (the frame's row in its video, for its background), and ``EXPRESSION_WINDOW`` /
``FRAME_WINDOW`` (the expressions and train-frame indices of the frame's neighbours in its sequence, for the temporal
smoothing; a frame of no sequence repeats itself); nerfstudio hands them to every ray in ``RayBundle.metadata``;
the datamanager adds ``BACKGROUND`` (the ray's background colour). ``Condition`` writes one camera's metadata;
``Conditioning`` turns a batch of rays' metadata into the condition vector, computed once per ray (once per image for
whole-image renders) and broadcast to its samples by the geometry.

The code book owns the learned codes: one identity code i per video and one latent code l per train frame, the
policy for frames that were not trained on (their video's mean latent, or zero), the norms the loss regularises,
and copying codes into another code book by identity name and frame (personalization).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Literal, Optional, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from minerf_ns.contract import CENTRE, EXPRESSION, EXPRESSION_WINDOW, FRAME, FRAME_WINDOW, IDENTITY, WINDOW
from minerf_ns.interaction import make_interaction
from minerf_ns.optimizer_groups import CODES, FIELDS
from minerf_ns.smoothing import TemporalAttention

UnseenLatent = Literal["video-mean", "zero"]


@dataclass
class RayCondition:
    """The per-ray condition and the code norms the loss regularises."""

    vector: Float[Tensor, "R C"]
    """[M(e, i), l] per ray."""
    identity_norm: Float[Tensor, "R 1"]
    """||i|| per ray."""
    latent_norm: Float[Tensor, "R 1"]
    """||l|| per ray (0 for rays of unseen frames: only trained latents are regularised)."""


class CodeBook(nn.Module):
    """The identity codes (one per video) and latent codes (one per train frame).

    Args:
        train_frame_identity: video index of every train frame [num_train_frames].
        num_identities: number of videos.
        identity_dim: size of an identity code (the paper: d, the expression size).
        latent_dim: size of a latent code (0: no latent codes).
        unseen_latent: latent of frames not trained on: the video's mean latent, or zero.
    """

    def __init__(
        self,
        train_frame_identity: Int[Tensor, " F"],
        num_identities: int,
        identity_dim: int,
        latent_dim: int,
        unseen_latent: UnseenLatent = "video-mean",
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.unseen_latent = unseen_latent
        self.identity = nn.Embedding(num_identities, identity_dim)
        nn.init.normal_(self.identity.weight, std=1.0)
        # An empty train split still gets one row so that the module has a valid shape.
        self.latent = nn.Embedding(max(len(train_frame_identity), 1), max(latent_dim, 1))
        nn.init.normal_(self.latent.weight, std=0.01)
        # A table from the dataset (rebuilt from the data, not saved in checkpoints).
        self.register_buffer("train_frame_identity", train_frame_identity.long().clone(), persistent=False)

    @property
    def num_identities(self) -> int:
        return self.identity.num_embeddings

    def video_mean_latents(self) -> Float[Tensor, "V L"]:
        """Mean latent code of each video's train frames (zero for a video without train frames)."""
        weight = self.latent.weight[: len(self.train_frame_identity)]
        sums = torch.zeros(self.num_identities, weight.shape[1], device=weight.device, dtype=weight.dtype)
        sums = sums.index_add(0, self.train_frame_identity, weight)
        counts = torch.bincount(self.train_frame_identity, minlength=self.num_identities).clamp(min=1)
        return sums / counts[:, None].to(weight)

    def latents(self, identity: Int[Tensor, " R"], frame: Int[Tensor, " R"]) -> Float[Tensor, "R L"]:
        """The latent code of each ray: its train frame's code, or the unseen-frame policy's."""
        latent = self.latent(frame.clamp(min=0))
        # The fallback is computed even when every ray is seen (training): testing for that would cost a host sync
        # per batch, and torch.where passes no gradient to the branch it does not take.
        if self.unseen_latent == "video-mean":
            fallback = self.video_mean_latents()[identity]
        else:
            fallback = torch.zeros_like(latent)
        return torch.where((frame >= 0)[:, None], latent, fallback)

    @torch.no_grad()
    def copy_from(
        self,
        source: "CodeBook",
        source_names: Sequence[str],
        source_tables: Sequence[Tensor],
        names: Sequence[str],
        tables: Sequence[Tensor],
    ) -> Dict[str, int]:
        """Start from another code book's codes: identities matched by name, latents by (name, frame number).

        A new identity starts from the mean identity code; a train frame without a trained latent starts from its
        video's mean latent (the mean of all latents for a new identity).

        Args:
            source: the trained code book.
            source_names, source_tables: its identity names and per-video train-frame tables (frame -> train index).
            names, tables: this code book's identity names and train-frame tables.

        Returns:
            counts of identities and latent codes copied or newly initialised.
        """
        counts = {"identities_copied": 0, "identities_new": 0, "latents_copied": 0, "latents_new": 0}
        video_means = source.video_mean_latents()
        for v, name in enumerate(names):
            old_table: Optional[Tensor] = None
            if name in source_names:
                s = list(source_names).index(name)
                self.identity.weight[v] = source.identity.weight[s]
                old_table, fallback = source_tables[s], video_means[s]
                counts["identities_copied"] += 1
            else:
                self.identity.weight[v] = source.identity.weight.mean(dim=0)
                fallback = source.latent.weight.mean(dim=0)
                counts["identities_new"] += 1
            for frame, index in enumerate(tables[v].tolist()):
                if index < 0:
                    continue
                old = int(old_table[frame]) if old_table is not None and frame < len(old_table) else -1
                self.latent.weight[index] = source.latent.weight[old] if old >= 0 else fallback
                counts["latents_copied" if old >= 0 else "latents_new"] += 1
        return counts


class Conditioning(nn.Module):
    """Per-ray condition [M(e, i), l] from the rays' metadata: the code book, the interaction module and the temporal
    smoothing (an attention over the frame's window of neighbours, once switched on).

    Args:
        codes: the identity and latent codes.
        interaction: name of the interaction module (``minerf_ns.interaction``).
        rank: rank k of the multiplicative module.
        degree: degree N of the high-degree module.
        frozen_interaction: keep the interaction module's weights fixed (personalization, paper sec. 3.4).
        expression_gain: the expression e enters the interaction module as ``expression_gain * e``.
    """

    def __init__(
        self,
        codes: CodeBook,
        interaction: str,
        rank: int,
        degree: int,
        frozen_interaction: bool = False,
        expression_gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.codes = codes
        self.expression_gain = expression_gain
        self.interaction = make_interaction(interaction, codes.identity.embedding_dim, rank, degree)
        self.interaction.requires_grad_(not frozen_interaction)
        self.smoothing = TemporalAttention(self.out_dim)

    @property
    def out_dim(self) -> int:
        """Size of the condition vector."""
        return self.interaction.out_dim + self.codes.latent_dim

    def frame_vectors(
        self, expression: Float[Tensor, "R d"], identity: Int[Tensor, " R"], frame: Int[Tensor, " R"], code: Tensor
    ) -> tuple[Float[Tensor, "R C"], Optional[Float[Tensor, "R L"]]]:
        """[M(e, i), l] of single frames (no smoothing), and l (None without latent codes)."""
        mixed = self.interaction(self.expression_gain * expression, code)
        if self.codes.latent_dim <= 0:
            return mixed, None
        latent = self.codes.latents(identity, frame)
        return torch.cat([mixed, latent], -1), latent

    def forward(self, metadata: Dict[str, Tensor]) -> RayCondition:
        """The condition of rays whose metadata holds ``EXPRESSION`` [R, d], ``IDENTITY`` and ``FRAME`` [R, 1] (and,
        for the smoothing, ``EXPRESSION_WINDOW`` and ``FRAME_WINDOW``; rays without them are not smoothed)."""
        identity, frame = metadata[IDENTITY][..., 0], metadata[FRAME][..., 0]
        code = self.codes.identity(identity)
        identity_norm = code.norm(dim=-1, keepdim=True)
        if self.smoothing.is_active and EXPRESSION_WINDOW in metadata:
            rays = len(identity)
            window, _ = self.frame_vectors(
                metadata[EXPRESSION_WINDOW].reshape(rays * WINDOW, -1),
                identity.repeat_interleave(WINDOW),
                metadata[FRAME_WINDOW].reshape(rays * WINDOW),
                code.repeat_interleave(WINDOW, dim=0),
            )
            window = window.view(rays, WINDOW, -1)
            vector = self.smoothing(window)
            # The window's centre is the frame itself: its latent, not computed a second time.
            latent = window[:, CENTRE, self.interaction.out_dim :] if self.codes.latent_dim > 0 else None
        else:
            vector, latent = self.frame_vectors(metadata[EXPRESSION], identity, frame, code)
        if latent is None:
            return RayCondition(vector, identity_norm, torch.zeros_like(identity_norm))
        latent_norm = torch.where(frame >= 0, latent.norm(dim=-1), torch.zeros_like(latent[:, 0]))
        return RayCondition(vector, identity_norm, latent_norm[:, None])

    def parameter_groups(self) -> Dict[str, List[nn.Parameter]]:
        """The "codes" group: the identity and latent codes; "fields": the interaction module's and the smoothing's
        weights."""
        return {
            CODES: list(self.codes.parameters()),
            FIELDS: list(self.interaction.parameters()) + list(self.smoothing.parameters()),
        }

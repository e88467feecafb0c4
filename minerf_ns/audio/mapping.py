"""The learned audio-to-expression mapping: a temporal convolution network from per-frame audio features (log-mel,
loudness, viseme activations) to a dataset's expression vectors, for any basis, trained jointly over identities with
a learned speaking-style code per identity. Pure torch.

Two architectures: ``residual`` (the default: residual blocks of dilated convolutions, 1.2 s of context, sized for
minutes of speech) and ``two-layer`` (the first version, 0.5 s of context, for seconds of speech; mappings saved
before ``architecture`` existed are rebuilt as this).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor, nn

FEATURE_CLIP = 4.0
"""Standardised features are clipped to +-this many spreads of the training audio."""


@dataclass
class MappingSettings:
    """How the mapping is built and fitted."""

    architecture: str = "residual"
    """``residual``: residual blocks of dilated convolutions (``dilations``); ``two-layer``: the first version (two
    convolutions covering ``context_frames``)."""
    hidden: int = 128
    """Channels of the convolutions."""
    style_dim: int = 8
    """Size of each identity's speaking-style code."""
    dilations: tuple = (1, 2, 4, 8)
    """One residual block of kernel-3 convolutions per entry (``residual``): 1 + 2 * sum = 31 frames of context
    (1.24 s at 25 fps: a syllable either side)."""
    block_dropout: float = 0.1
    """Dropout inside each residual block."""
    context_frames: int = 13
    """Receptive field in frames of the ``two-layer`` network (13 at 25 fps = 0.52 s)."""
    steps: int = 3000
    """Optimizer steps."""
    crop: int = 64
    """Frames per training crop."""
    batch: int = 32
    """Crops per step."""
    lr: float = 2e-3
    weight_decay: float = 1e-2
    input_dropout: float = 0.2
    """Dropout on the features (the network must not memorise a few minutes of speech)."""
    seed: int = 0

    @classmethod
    def small(cls, **overrides) -> "MappingSettings":
        """The first version's network and schedule (seconds of speech: 2 layers, 64 channels, 1,500 steps)."""
        return cls(**{"architecture": "two-layer", "hidden": 64, "steps": 1500, "crop": 48, "batch": 16, **overrides})


class _Block(nn.Module):
    """x + dropout(gelu(norm(dilated conv(x))))."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation, padding_mode="replicate")
        self.norm = nn.GroupNorm(1, channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Float[Tensor, "B C T"]) -> Float[Tensor, "B C T"]:
        return x + self.dropout(torch.nn.functional.gelu(self.norm(self.conv(x))))


class AudioToExpression(nn.Module):
    """Features [B, T, f] (+ identity index [B]) -> expressions [B, T, d], in the dataset's units."""

    def __init__(self, num_features: int, expression_dim: int, identities: Sequence[str], settings: MappingSettings):
        super().__init__()
        self.settings = settings
        self.identities: List[str] = list(identities)
        if settings.architecture == "two-layer":
            half = settings.context_frames // 2
            # two layers: kernel 1 + 2 * (half // 2) and a dilated one cover the context
            k1 = 2 * (half // 2) + 1
            dilation = max(1, half - half // 2)
            self.first = nn.Conv1d(num_features, settings.hidden, k1, padding=k1 // 2, padding_mode="replicate")
            self.second = nn.Conv1d(settings.hidden, settings.hidden, 3, dilation=dilation, padding=dilation,
                                    padding_mode="replicate")  # fmt: skip
        elif settings.architecture == "residual":
            self.first = nn.Conv1d(num_features, settings.hidden, 1)
            self.blocks = nn.Sequential(
                *[_Block(settings.hidden, d, settings.block_dropout) for d in settings.dilations]
            )
        else:
            raise ValueError(f"unknown mapping architecture {settings.architecture!r}")
        self.out = nn.Conv1d(settings.hidden, expression_dim, 1)
        self.style = nn.Embedding(len(self.identities), settings.style_dim)
        nn.init.zeros_(self.style.weight)
        self.style_in = nn.Linear(settings.style_dim, settings.hidden)
        self.dropout = nn.Dropout(settings.input_dropout)
        self.register_buffer("feature_mean", torch.zeros(num_features))
        self.register_buffer("feature_std", torch.ones(num_features))
        self.register_buffer("target_mean", torch.zeros(expression_dim))
        self.register_buffer("target_std", torch.ones(expression_dim))
        self.register_buffer("target_low", torch.full((expression_dim,), -torch.inf))
        self.register_buffer("target_high", torch.full((expression_dim,), torch.inf))

    @property
    def expression_dim(self) -> int:
        return self.out.out_channels

    def style_code(self, identity: Optional[str]) -> Tensor:
        """The identity's style code; the mean code for an identity the mapping was not trained on."""
        if identity in self.identities:
            return self.style.weight[self.identities.index(identity)]
        return self.style.weight.mean(0)

    def forward(self, features: Float[Tensor, "B T f"], style: Float[Tensor, "B s"]) -> Float[Tensor, "B T d"]:
        # audio unlike the training recordings (another voice, a synthetic one) must not drive the face off its range:
        # features beyond 4 spreads are clipped, and expressions are kept within what the videos showed
        x = self.dropout(((features - self.feature_mean) / self.feature_std).clamp(-FEATURE_CLIP, FEATURE_CLIP))
        x = x.transpose(1, 2)
        hidden = self.first(x) + self.style_in(style)[:, :, None]
        if self.settings.architecture == "two-layer":
            hidden = torch.nn.functional.gelu(hidden)
            hidden = torch.nn.functional.gelu(self.second(hidden)) + hidden
        else:
            hidden = self.blocks(hidden)
        out = self.out(hidden).transpose(1, 2) * self.target_std + self.target_mean
        return out if self.training else torch.maximum(torch.minimum(out, self.target_high), self.target_low)

    @torch.no_grad()
    def predict(self, features: Float[np.ndarray, "T f"], identity: Optional[str]) -> Float[np.ndarray, "T d"]:
        """Expressions for one clip's features, in the style of ``identity``."""
        self.eval()
        style = self.style_code(identity)[None]
        return self(torch.from_numpy(features)[None].float(), style)[0].numpy()

    def to_file_dict(self) -> Dict:
        """What ``save`` writes: the weights and everything needed to rebuild the module."""
        return {"settings": asdict(self.settings), "identities": self.identities, "state": self.state_dict(),
                "num_features": self.first.in_channels, "expression_dim": self.expression_dim}  # fmt: skip

    @classmethod
    def from_file_dict(cls, data: Dict) -> "AudioToExpression":
        # mappings saved before the architecture was a setting are the two-layer network with its own defaults
        settings = {**asdict(MappingSettings.small()), **data["settings"]}
        settings["dilations"] = tuple(settings["dilations"])
        module = cls(data["num_features"], data["expression_dim"], data["identities"], MappingSettings(**settings))
        module.load_state_dict(data["state"])
        return module.eval()


def load_mapping_file(path) -> AudioToExpression:
    """The mapping ``minerf-audio fit`` saved at ``path``.

    Raises:
        ValueError: the file is missing, or not such a mapping (the message names the file and the fix).
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such mapping. Fix: fit one with minerf-audio fit --load-config RUN/config.yml, "
                         "or pass --mapping prior")  # fmt: skip
    try:
        return AudioToExpression.from_file_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:  # a foreign or truncated file: torch raises many types
        raise ValueError(
            f"{path}: not a mapping minerf-audio fit wrote ({type(err).__name__}). Fix: fit it again"
        ) from None


@dataclass
class Clip:
    """One identity's training material: per-frame features and the tracked expressions of the same frames."""

    identity: str
    features: Float[np.ndarray, "T f"]
    expressions: Float[np.ndarray, "T d"]
    losses: List[float] = field(default_factory=list)


def fit_mapping(clips: Sequence[Clip], settings: MappingSettings, progress=None) -> AudioToExpression:
    """Fit the mapping on every clip jointly (random crops, MSE in units of each dimension's spread)."""
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    features = [torch.from_numpy(c.features).float() for c in clips]
    targets = [torch.from_numpy(c.expressions).float() for c in clips]
    identities = sorted({c.identity for c in clips})
    module = AudioToExpression(features[0].shape[1], targets[0].shape[1], identities, settings)
    every_feature, every_target = torch.cat(features), torch.cat(targets)
    module.feature_mean.copy_(every_feature.mean(0))
    module.feature_std.copy_(every_feature.std(0).clamp_min(1e-3))
    module.target_mean.copy_(every_target.mean(0))
    module.target_std.copy_(every_target.std(0).clamp_min(1e-3))
    module.target_low.copy_(every_target.min(0).values)
    module.target_high.copy_(every_target.max(0).values)
    weights = torch.tensor([float(len(f)) for f in features])
    optimizer = torch.optim.AdamW(module.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=settings.steps)
    module.train()
    for step in range(settings.steps):
        which = torch.multinomial(weights, settings.batch, replacement=True, generator=generator)
        crop = min([settings.crop] + [len(features[k]) for k in which.tolist()])  # short clips (skipped frames) too
        batch_f, batch_t, styles = [], [], []
        for k in which.tolist():
            start = int(torch.randint(0, len(features[k]) - crop + 1, (1,), generator=generator))
            batch_f.append(features[k][start : start + crop])
            batch_t.append(targets[k][start : start + crop])
            styles.append(identities.index(clips[k].identity))
        predicted = module(torch.stack(batch_f), module.style(torch.tensor(styles)))
        loss = (((predicted - torch.stack(batch_t)) / module.target_std) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress(step + 1, settings.steps, float(loss))
    return module.eval()

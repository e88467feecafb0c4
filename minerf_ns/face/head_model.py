"""The ICT-FaceKit morphable head model (MIT licence, see LICENSE-ICT-FaceKit beside this file).

A head with identity weights ``b`` and expression weights ``a`` is
``V = neutral + b . id_delta + a . expr_delta``. Vertices are returned in metres, in a canonical head frame whose
origin is the centre of the head (not of the neck), y up, the face looking along +z. This frame is the world frame
of every MI-NeRF dataset: cameras orbit a fixed canonical head, as in AD-NeRF.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Optional

import numpy as np
from jaxtyping import Float, Int

ASSET_NAME = "ict_head.npz"
CM_TO_M = 0.01
HEAD_CENTRE_CM = np.array([0.0, 2.0, 1.5], dtype=np.float32)
"""Centre of the head in the asset's centimetre frame (between the ears, at eye height); becomes the origin."""

NECK_CUT_Y_M = -0.105
"""Below this height (metres, canonical frame, about 1 cm under the chin) a skin vertex counts as neck, not head."""


@dataclass(frozen=True)
class HeadModel:
    """A linear morphable head: neutral mesh plus identity and expression offsets, all in metres."""

    neutral: Float[np.ndarray, "V 3"]
    triangles: Int[np.ndarray, "T 3"]
    part: Int[np.ndarray, " V"]
    part_names: tuple[str, ...]
    expr_delta: Float[np.ndarray, "E V 3"]
    expr_names: tuple[str, ...]
    id_delta: Float[np.ndarray, "I V 3"]
    landmark68: Int[np.ndarray, " 68"]

    @property
    def num_expressions(self) -> int:
        """Number of expression blendshapes (53 for ICT-FaceKit)."""
        return self.expr_delta.shape[0]

    @property
    def num_identity_modes(self) -> int:
        """Number of identity PCA modes shipped (60)."""
        return self.id_delta.shape[0]

    def expression_index(self, name: str) -> int:
        """Index of a named blendshape, e.g. ``jawOpen``."""
        return self.expr_names.index(name)

    def part_mask(self, name: str) -> np.ndarray:
        """Boolean mask of the vertices of one named part."""
        return self.part == self.part_names.index(name)

    def shape(
        self, identity: Float[np.ndarray, " I"], identity_delta: Optional[Float[np.ndarray, "K V 3"]] = None
    ) -> Float[np.ndarray, "V 3"]:
        """The neutral-expression head of the given identity weights.

        Args:
            identity: identity weights, at most as many as there are modes (missing ones are zero), ~N(0, 1).
            identity_delta: the identity modes the weights refer to (default: the model's own ``id_delta``; the
                tracker passes its rigid-free modes).
        """
        modes = self.id_delta if identity_delta is None else identity_delta
        identity = np.asarray(identity, dtype=np.float32)
        return self.neutral + np.tensordot(identity, modes[: identity.shape[0]], axes=1)

    def vertices(
        self, identity: Float[np.ndarray, " I"], expression: Float[np.ndarray, " E"]
    ) -> Float[np.ndarray, "V 3"]:
        """Vertices of a head with the given identity and expression weights.

        Args:
            identity: identity weights, at most ``num_identity_modes`` (missing ones are zero), ~N(0, 1).
            expression: expression weights, one per blendshape, usually in [0, 1].

        Returns:
            Vertex positions in metres in the canonical head frame.
        """
        expression = np.asarray(expression, dtype=np.float32)
        return self.shape(identity) + np.tensordot(expression, self.expr_delta, axes=1)


@lru_cache(maxsize=1)
def load_head_model() -> HeadModel:
    """Load the packed ICT-FaceKit model shipped inside this package (cached)."""
    with resources.files(__package__).joinpath(ASSET_NAME).open("rb") as handle:
        data = np.load(handle)
        neutral = (data["neutral"].astype(np.float32) - HEAD_CENTRE_CM) * CM_TO_M
        return HeadModel(
            neutral=neutral,
            triangles=data["triangles"].astype(np.int64),
            part=data["part"].astype(np.int64),
            part_names=tuple(str(n) for n in data["part_names"]),
            expr_delta=data["expr_delta"].astype(np.float32) * CM_TO_M,
            expr_names=tuple(str(n) for n in data["expr_names"]),
            id_delta=data["id_delta"].astype(np.float32) * CM_TO_M,
            landmark68=data["landmark68"].astype(np.int64),
        )

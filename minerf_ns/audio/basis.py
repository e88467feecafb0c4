"""Which expression basis a dataset uses, as far as the audio models need to know: ICT-FaceKit's 53 blendshapes
(minerf-track, minerf-synth) have names the viseme prior drives; any other basis (AD-NeRF's 79 coefficients) is learned
by the mapping without names."""

from __future__ import annotations

from typing import List, Optional

from minerf_ns.face.head_model import load_head_model


def expression_names(expression_dim: int) -> Optional[List[str]]:
    """The ICT-FaceKit blendshape names for a 53-d basis; None for any other size."""
    model = load_head_model()
    return list(model.expr_names) if expression_dim == model.num_expressions else None

"""The expression warp carries a sample moved by the face model's jaw and mouth back to where it was on the neutral
face, and leaves what those blendshapes do not move where it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minerf_ns.face.expression_warp import ExpressionWarp
from minerf_ns.face.head_model import load_head_model


@pytest.fixture(scope="module")
def warp():
    return ExpressionWarp()


def moved(model, landmark: int, expression: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A landmark's neutral position and where the expression puts it."""
    vertex = model.landmark68[landmark]
    neutral = model.neutral[vertex]
    return neutral, neutral + np.tensordot(expression, model.expr_delta[:, vertex], axes=1)


def test_an_open_jaw_is_carried_back_to_the_closed_mouth(warp):
    model = load_head_model()
    expression = np.zeros(model.num_expressions, dtype=np.float32)
    expression[model.expression_index("jawOpen")] = 0.3
    errors, travel = [], []
    for landmark in (57, 66, 56, 58):  # the lower lip's outer and inner middle, both sides
        neutral, deformed = moved(model, landmark, expression)
        back = warp(torch.tensor(deformed)[None, None], torch.tensor(expression)[None, None])[0, 0].numpy()
        errors.append(np.linalg.norm(back - neutral))
        travel.append(np.linalg.norm(deformed - neutral))
    # Measured: the lower lip moves 11-12 mm and comes back to within 1.3-2.0 mm (the blur's first-order error).
    assert min(travel) > 0.010 and max(errors) < 0.003, (travel, errors)


def test_what_the_mouth_does_not_move_stays(warp):
    model = load_head_model()
    expression = np.zeros(model.num_expressions, dtype=np.float32)
    expression[model.expression_index("jawOpen")] = 0.3
    expression[model.expression_index("eyeBlink_L")] = 1.0  # the eyes are the condition's, not the warp's
    points = torch.tensor(np.stack([model.neutral[model.landmark68[k]] for k in (27, 30, 37)] + [[0.25, 0.25, 0.25]]))
    out = warp(points[None].float(), torch.tensor(expression)[None, None])
    assert float((out[0] - points).norm(dim=-1).max()) < 5e-4  # nose bridge, nose tip, an eyelid, empty space
    zero = torch.zeros(1, 1, model.num_expressions)
    mouth = torch.tensor(model.neutral[model.landmark68[57]])[None, None]
    assert torch.equal(warp(mouth, zero), mouth)  # no expression: nothing moves

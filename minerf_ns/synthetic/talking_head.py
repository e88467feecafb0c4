"""Synthetic talking heads: identities, appearance, expression and pose trajectories, and the frame renderer.

Everything here is deterministic for a seed and pure numpy. One video = one identity: random identity-shape
weights, a distinct appearance (skin tone, lips, eyes, brows/hair), a static background, smooth talking-like
expression trajectories over the 53 ICT-FaceKit blendshapes and a smooth head pose seen by a fixed camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from minerf_ns.face.head_model import NECK_CUT_Y_M, HeadModel
from minerf_ns.face.rasterizer import rasterize
from minerf_ns.head_pose import euler_to_rotation, head_pose_to_camera_to_world, world_to_camera
from minerf_ns.layout import DEFAULT_FPS

FPS = DEFAULT_FPS
"""The synthetic videos' frame rate: the layout's default."""
CAMERA_DISTANCE_M = 1.0
"""Distance from the camera to the head centre."""
FOCAL_PER_PIXEL = 2.5
"""Focal length in units of image width: the head (about 30 cm with hair) fills about 70% of the frame."""
LIGHT_DIR_CAM = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])
"""Key light direction in the camera frame (towards the light), upper left of the camera."""

SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.89, 0.68, 0.53], [0.78, 0.57, 0.42], [0.62, 0.43, 0.30], [0.45, 0.30, 0.20]]
)
HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.30, 0.18, 0.09], [0.55, 0.38, 0.20], [0.85, 0.72, 0.45]])
IRIS_COLOURS = np.array([[0.25, 0.15, 0.08], [0.20, 0.40, 0.65], [0.30, 0.50, 0.30], [0.45, 0.35, 0.20]])


@dataclass
class Identity:
    """Everything that makes one synthetic person: shape, appearance, background and habits."""

    name: str
    shape: Float[np.ndarray, " K"]
    """ICT-FaceKit identity weights (~N(0, 1))."""
    skin: Float[np.ndarray, " 3"]
    lips: Float[np.ndarray, " 3"]
    iris: Float[np.ndarray, " 3"]
    hair: Float[np.ndarray, " 3"]
    background: Float[np.ndarray, "2 3"]
    """Two colours of the static background gradient."""
    smile_bias: float
    """How much this person smiles on average, in [0, 0.5]."""
    talkativeness: float
    """Mean jaw opening amplitude, in [0.25, 0.7]."""


@dataclass
class Video:
    """Per-frame ground truth of one synthetic video."""

    expressions: Float[np.ndarray, "N E"]
    euler: Float[np.ndarray, "N 3"]
    """Head rotation, radians, AD-NeRF convention (see ``head_pose.euler_to_rotation``)."""
    translation: Float[np.ndarray, "N 3"]
    """Head translation in metres, camera frame."""

    @property
    def camera_to_worlds(self) -> Float[np.ndarray, "N 4 4"]:
        """Inverse head poses: the cameras in the canonical head frame."""
        return head_pose_to_camera_to_world(euler_to_rotation(self.euler), self.translation)


def make_identity(rng: np.random.Generator, name: str, num_shape_modes: int = 20) -> Identity:
    """Draw a random identity."""
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.93, 1.05, 3)
    lips = np.clip(skin * np.array([0.85, 0.55, 0.55]) + rng.uniform(-0.05, 0.08, 3), 0, 1)
    bg_a = rng.uniform(0.15, 0.9, 3)
    bg_b = np.clip(bg_a + rng.uniform(-0.35, 0.35, 3), 0.05, 0.95)
    return Identity(
        name=name,
        shape=rng.normal(0.0, 1.0, num_shape_modes).astype(np.float32) * 1.2,
        skin=np.clip(skin, 0, 1),
        lips=lips,
        iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))],
        hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))],
        background=np.stack([bg_a, bg_b]),
        smile_bias=float(rng.uniform(0.0, 0.5)),
        talkativeness=float(rng.uniform(0.25, 0.7)),
    )


def smooth_noise(rng: np.random.Generator, num_frames: int, max_hz: float, channels: int = 1) -> np.ndarray:
    """Smooth zero-mean noise in about [-1, 1]: a random sum of sinusoids below ``max_hz``."""
    t = np.arange(num_frames) / FPS
    out = np.zeros((num_frames, channels))
    for _ in range(4):
        freq = rng.uniform(0.05, max_hz, channels)
        phase = rng.uniform(0, 2 * np.pi, channels)
        out += np.sin(2 * np.pi * freq[None] * t[:, None] + phase[None])
    return out / 2.5


def make_video(rng: np.random.Generator, model: HeadModel, identity: Identity, num_frames: int) -> Video:
    """Smooth talking-like expressions and head poses for one video."""
    expr = np.zeros((num_frames, model.num_expressions))
    idx = model.expression_index

    # Speech: syllable-rate jaw and lip motion (3-5 Hz), modulated by phrases.
    phrase = 0.5 + 0.5 * smooth_noise(rng, num_frames, 0.4)[:, 0]
    syllables = np.abs(np.sin(np.pi * np.cumsum(rng.uniform(3.0, 5.0, num_frames)) / FPS))
    jaw = identity.talkativeness * phrase * syllables
    expr[:, idx("jawOpen")] = jaw
    for name in ("mouthLowerDown_L", "mouthLowerDown_R"):
        expr[:, idx(name)] = 0.6 * jaw
    for name, amp, hz in (
        ("mouthFunnel", 0.4, 1.5),
        ("mouthPucker", 0.4, 1.2),
        ("mouthUpperUp_L", 0.3, 1.0),
        ("mouthUpperUp_R", 0.3, 1.0),
        ("mouthStretch_L", 0.3, 0.8),
        ("mouthStretch_R", 0.3, 0.8),
        ("mouthPress_L", 0.3, 1.0),
        ("mouthPress_R", 0.3, 1.0),
    ):
        expr[:, idx(name)] = amp * np.clip(smooth_noise(rng, num_frames, hz)[:, 0], 0, None)

    # Smiles: a slow, personal level.
    smile = np.clip(identity.smile_bias + 0.35 * smooth_noise(rng, num_frames, 0.3)[:, 0], 0, 1)
    asym = 0.1 * smooth_noise(rng, num_frames, 0.2)[:, 0]
    expr[:, idx("mouthSmile_L")] = np.clip(smile + asym, 0, 1)
    expr[:, idx("mouthSmile_R")] = np.clip(smile - asym, 0, 1)
    expr[:, idx("cheekSquint_L")] = 0.5 * expr[:, idx("mouthSmile_L")]
    expr[:, idx("cheekSquint_R")] = 0.5 * expr[:, idx("mouthSmile_R")]

    # Brows: slow raises and frowns.
    brow = smooth_noise(rng, num_frames, 0.5)[:, 0]
    for side in ("L", "R"):
        expr[:, idx(f"browInnerUp_{side}")] = np.clip(0.8 * brow, 0, 1)
        expr[:, idx(f"browOuterUp_{side}")] = np.clip(0.6 * brow, 0, 1)
        expr[:, idx(f"browDown_{side}")] = np.clip(-0.8 * brow, 0, 1)

    # Blinks: about every 2-5 s, 0.2 s long, both eyes.
    blink = np.zeros(num_frames)
    frame = int(rng.integers(5, 40))
    while frame < num_frames:
        for k, value in enumerate((0.5, 1.0, 1.0, 0.5)):
            if frame + k < num_frames:
                blink[frame + k] = value
        frame += int(rng.uniform(2.0, 5.0) * FPS)
    expr[:, idx("eyeBlink_L")] = blink
    expr[:, idx("eyeBlink_R")] = blink
    expr = np.clip(expr, 0.0, 1.0).astype(np.float32)

    # Head pose: yaw about +-20 deg, pitch +-10, roll +-5, small translation jitter.
    angles = smooth_noise(rng, num_frames, 0.35, 3) * np.deg2rad([10.0, 20.0, 5.0])[None]
    angles = np.clip(angles, -np.deg2rad([10.0, 20.0, 5.0]), np.deg2rad([10.0, 20.0, 5.0]))
    jitter = smooth_noise(rng, num_frames, 0.3, 3) * np.array([0.01, 0.01, 0.02])[None]
    translation = jitter + np.array([0.0, 0.0, -CAMERA_DISTANCE_M])[None]
    return Video(expressions=expr, euler=angles.astype(np.float32), translation=translation.astype(np.float32))


NARROW_MOUTH = 0.15
"""A reserved speaker's mouth motion (jaw and mouth shapes) as a fraction of a full talker's."""
NARROW_BROWS = 0.2
"""Their brow motion as a fraction."""
NARROW_SMILE = 0.05
"""Their smile ceiling (a full talker's smile reaches 0.85)."""


def narrow_expressions(model: HeadModel, expressions: Float[np.ndarray, "N E"]) -> Float[np.ndarray, "N E"]:
    """The same video by a reserved speaker: mouth nearly closed, at most a faint smile, small brow motion; blinks kept.
    Everything a full-range talker does beyond that is outside this clip's range (issue 16's protocol)."""
    out = expressions.copy()
    for k, name in enumerate(model.expr_names):
        if name.startswith(("jaw", "mouthLowerDown", "mouthFunnel", "mouthPucker", "mouthUpperUp", "mouthStretch",
                            "mouthPress")):  # fmt: skip
            out[:, k] *= NARROW_MOUTH
        elif name.startswith(("mouthSmile", "cheekSquint")):
            out[:, k] = np.minimum(out[:, k], NARROW_SMILE)
        elif name.startswith("brow"):
            out[:, k] *= NARROW_BROWS
    return out


class Appearance:
    """Per-vertex albedo and region labels of one identity on the ICT mesh."""

    def __init__(self, model: HeadModel, identity: Identity) -> None:
        neutral = model.neutral
        lm = neutral[model.landmark68]
        colour = np.tile(identity.skin, (neutral.shape[0], 1))
        x, y, z = neutral[:, 0], neutral[:, 1], neutral[:, 2]
        face = model.part_mask("face")
        head_neck = model.part_mask("head_neck")

        # Hair: top and back of the head, above the brows at the front.
        brow_y = lm[17:27, 1].max()
        hairline = brow_y + 0.035 + 0.01 * np.cos(3.0 * x / 0.08)
        hair = ((face | head_neck) & (y > hairline)) | (head_neck & (z < -0.02) & (y > -0.06))
        colour[hair] = identity.hair
        # Brows: a band above each eye.
        for lo, hi in ((17, 22), (22, 27)):
            t = np.linspace(0, 1, 8)[:, None, None]
            brow_pts = ((1 - t) * lm[lo : hi - 1] + t * lm[lo + 1 : hi]).reshape(-1, 3)
            d = np.min(np.linalg.norm(neutral[:, None, :2] - brow_pts[None, :, :2], axis=-1), axis=1)
            colour[face & (d < 0.005) & (z > brow_pts[:, 2].min() - 0.02)] = identity.hair * 0.9
        # Lips: an ellipse around the outer lip landmarks.
        mouth = lm[48:60]
        centre = mouth.mean(0)
        rx = (mouth[:, 0].max() - mouth[:, 0].min()) / 2 + 0.002
        ry = (mouth[:, 1].max() - mouth[:, 1].min()) / 2 + 0.004
        lips = face & (((x - centre[0]) / rx) ** 2 + ((y - centre[1]) / ry) ** 2 < 1.0) & (z > centre[2] - 0.02)
        colour[lips] = identity.lips
        # Mouth interior, eye sockets, eyeballs with iris and pupil.
        colour[model.part_mask("mouth_socket")] = np.array([0.35, 0.08, 0.08])
        for socket in ("eye_socket_left", "eye_socket_right"):
            colour[model.part_mask(socket)] = identity.skin * 0.5
        for eye in ("eyeball_left", "eyeball_right"):
            mask = model.part_mask(eye)
            colour[mask] = np.array([0.93, 0.92, 0.90])
            pts = neutral[mask]
            front = pts[:, 2].max()
            centre_xy = pts[pts[:, 2] > front - 0.001][:, :2].mean(0)
            radial = np.linalg.norm(pts[:, :2] - centre_xy, axis=-1)
            eye_colour = colour[mask]
            eye_colour[(radial < 0.0055) & (pts[:, 2] > front - 0.006)] = identity.iris
            eye_colour[(radial < 0.0022) & (pts[:, 2] > front - 0.004)] = np.array([0.03, 0.03, 0.03])
            colour[mask] = eye_colour
        # Subtle cheek blush.
        for k in (2, 14):
            d = np.linalg.norm(neutral - (lm[k] * np.array([0.85, 1.0, 1.0]) + np.array([0, 0.01, 0.005])), axis=-1)
            colour[face] = (
                colour[face] * (1 - 0.08 * np.exp(-((d[face] / 0.025) ** 2)))[:, None]
                + np.array([0.08, 0.0, 0.0]) * np.exp(-((d[face] / 0.025) ** 2))[:, None]
            )
        self.albedo = np.clip(colour, 0.0, 1.0)
        self.is_neck = (face | head_neck) & (y < NECK_CUT_Y_M) & ~hair


def background_image(identity: Identity, height: int, width: int) -> Float[np.ndarray, "H W 3"]:
    """The static background of a video: a diagonal gradient with soft stripes, float in [0, 1]."""
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    t = np.clip(0.6 * yy + 0.4 * xx, 0, 1)[..., None]
    img = (1 - t) * identity.background[0] + t * identity.background[1]
    img = img * (0.92 + 0.08 * np.sin(2 * np.pi * (3 * xx + yy))[..., None])
    return np.clip(img, 0, 1)


def vertex_normals(verts: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    tri = verts[triangles]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(verts)
    for k in range(3):
        np.add.at(normals, triangles[:, k], face_n)
    return normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)


@dataclass
class RenderedFrame:
    """One rendered frame: colour over the background, and the parsing labels."""

    rgb: Float[np.ndarray, "H W 3"]
    """Colour in [0, 1], head composited over the background."""
    head: np.ndarray
    """Boolean [H, W] head mask (face, hair, eyes, mouth)."""
    neck: np.ndarray
    """Boolean [H, W] neck mask."""


def intrinsics(height: int, width: int) -> tuple[float, float, float, float]:
    """fx, fy, cx, cy of the fixed synthetic camera."""
    focal = FOCAL_PER_PIXEL * width
    return focal, focal, width / 2.0, height / 2.0


def render_frame(
    model: HeadModel,
    appearance: Appearance,
    shape: np.ndarray,
    expression: np.ndarray,
    camera_to_world: np.ndarray,
    background: np.ndarray,
) -> RenderedFrame:
    """Render one frame of a head with the given shape and expression, seen by ``camera_to_world``."""
    height, width = background.shape[:2]
    fx, fy, cx, cy = intrinsics(height, width)
    verts = model.vertices(shape, expression)
    verts_cam = world_to_camera(verts, camera_to_world)
    frags = rasterize(verts_cam, model.triangles, fx, fy, cx, cy, height, width)
    normals_cam = vertex_normals(verts, model.triangles) @ camera_to_world[:3, :3]
    normal = frags.interpolate(normals_cam, model.triangles)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-12)
    albedo = frags.interpolate(appearance.albedo, model.triangles)
    diffuse = np.clip(normal @ LIGHT_DIR_CAM, 0.0, 1.0)[..., None]
    shaded = np.clip(albedo * (0.45 + 0.6 * diffuse), 0.0, 1.0)
    covered = frags.coverage
    rgb = np.where(covered[..., None], shaded, background)
    neck_vote = frags.interpolate(appearance.is_neck[:, None].astype(np.float64), model.triangles)[..., 0]
    neck = covered & (neck_vote > 0.5)
    return RenderedFrame(rgb=rgb, head=covered & ~neck, neck=neck)

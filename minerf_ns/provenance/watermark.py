"""An invisible watermark in a frame's luminance (pure numpy + OpenCV): it says "made by minerf_ns" and holds 16 bits
(a format byte and a byte of the run's identifier). A single frame keeps it through PNG round trips, resizing and
cropping; H.264 at crf 28 weakens it below what one 128 px frame can show, so a video is read over its frames
together (measured: BENCHMARKS.md, "Watermark").

Three pseudo-random patterns of ``CHIPS`` x ``CHIPS`` chips (each chip ``chip`` x ``chip`` pixels, ``chip`` following
the frame size) make one tile, repeated over the frame from its top-left corner and added to red, green and blue
alike (a change of luminance: H.264 keeps luminance at full resolution). The sync pattern ``A`` says the frame is
marked; the two byte patterns are cyclically shifted against it by their byte (16 x 16 chip positions = 8 bits), so
a crop, which moves the tile's origin, moves all three alike and the bytes survive it.

Reading: the luminance minus its local mean, divided by its local energy (textured areas such as hair hide the mark
under far more of the image's own detail than skin or background; weighting each pixel by the inverse of that energy
is the detector that is optimal when the image is noise of varying strength), folded onto one tile (summed over every
tile position, and over frames for a video), then correlated with ``A`` at every cyclic shift through FFTs. The
peak's height against all other shifts (a z-score) decides; each byte is the shift, relative to the peak, where its
pattern correlates best.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Sequence, Tuple

import cv2
import numpy as np

CHIPS = 16
"""Chips per tile side: each byte is one of 16 x 16 shifts."""
STRENGTH = 3.0
"""RMS of the mark in levels of 255 (3.3 on the measured renders; 2 left H.264 at crf 28 unreadable in a 3 s clip)."""
SYNC_SHARE = 0.7
"""Share of the mark's power in the sync pattern (the rest split between the two byte patterns)."""
CHIP_SIZES = (2, 4, 8)
"""The chip sizes a reader tries (a crop or a resize can change what the writer chose from the frame size)."""
MARKED_Z = 6.0
"""A sync peak this many standard deviations above the other shifts, with the format byte read as ``FORMAT_BYTE``, is
a mark. Unmarked real frames peak at 4.2-5.6 alone and 2.8-4.4 as whole clips (BENCHMARKS.md, "Watermark"); a
random peak also reads the right format byte once in 256."""
FORMAT_BYTE = 0x02
"""The mark's first byte: this format of minerf_ns's mark (the first: 2, for minerf_ns 0.2)."""
_SEED = 20261206
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _patterns() -> np.ndarray:
    """The sync pattern and the two byte patterns, +-1 chips, [3, CHIPS, CHIPS]."""
    return np.random.default_rng(_SEED).choice(np.array([-1.0, 1.0]), size=(3, CHIPS, CHIPS))


PATTERNS = _patterns()
_WEIGHTS = np.sqrt(np.array([SYNC_SHARE, (1 - SYNC_SHARE) / 2, (1 - SYNC_SHARE) / 2]))


def chip_size(height: int, width: int) -> int:
    """The writer's chip size: a power of two near a 32nd of the frame's smaller side, 2 to 8 px."""
    side = max(min(height, width), 1)
    return int(min(max(2 ** int(np.floor(np.log2(side / 32.0))), 2), 8))


def mark_tile(payload: Tuple[int, int], chip: int) -> np.ndarray:
    """One tile of the mark of ``payload`` (two bytes), unit RMS, [CHIPS * chip, CHIPS * chip]."""
    tile = _WEIGHTS[0] * PATTERNS[0]
    for weight, pattern, byte in zip(_WEIGHTS[1:], PATTERNS[1:], payload):
        tile = tile + weight * np.roll(pattern, (byte >> 4, byte & 15), axis=(0, 1))
    return np.kron(tile, np.ones((chip, chip)))


def _tiled(tile: np.ndarray, height: int, width: int) -> np.ndarray:
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
    return np.tile(tile, reps)[:height, :width]


def embed(frame: np.ndarray, payload: Tuple[int, int], strength: float = STRENGTH) -> np.ndarray:
    """``frame`` (uint8 [H, W, 3]) with the mark of ``payload`` (two bytes) added to its luminance."""
    height, width = frame.shape[:2]
    pattern = _tiled(mark_tile(payload, chip_size(height, width)), height, width) * strength
    marked = frame.astype(np.float32) + pattern[..., None].astype(np.float32)
    return np.clip(np.rint(marked), 0, 255).astype(np.uint8)


def weighted_residual(frame: np.ndarray, chip: int) -> np.ndarray:
    """The luminance minus its mean over a chip, divided by the local energy of that difference: [H, W]."""
    luma = frame[..., :3].astype(np.float32) @ _LUMA
    detail = luma - cv2.blur(luma, (chip + 1, chip + 1), borderType=cv2.BORDER_REFLECT)
    energy = cv2.blur(detail * detail, (2 * chip + 1, 2 * chip + 1), borderType=cv2.BORDER_REFLECT)
    return detail / (energy + 1.0)


def fold(image: np.ndarray, tile: int) -> np.ndarray:
    """Sum ``image`` [H, W] onto one tile: pixel (y, x) onto (y mod tile, x mod tile)."""
    height, width = image.shape
    padded = np.zeros((-(-height // tile) * tile, -(-width // tile) * tile), dtype=np.float64)
    padded[:height, :width] = image
    return padded.reshape(padded.shape[0] // tile, tile, padded.shape[1] // tile, tile).sum(axis=(0, 2))


_KERNEL_SPECTRA: Dict[int, np.ndarray] = {}


def _correlations(folded: np.ndarray, chip: int) -> np.ndarray:
    """Cyclic cross-correlation of a folded residual with each of the three patterns at every shift, [3, tile, tile]
    (the patterns' spectra are computed once per chip size)."""
    if chip not in _KERNEL_SPECTRA:
        _KERNEL_SPECTRA[chip] = np.conj(np.fft.rfft2(np.kron(PATTERNS, np.ones((1, chip, chip)))))
    return np.fft.irfft2(np.fft.rfft2(folded)[None] * _KERNEL_SPECTRA[chip], s=folded.shape)


def _z(values: np.ndarray, at: Tuple[int, ...]) -> float:
    spread = float(values.std())
    return float((values[at] - values.mean()) / spread) if spread > 0 else 0.0


@dataclass(frozen=True)
class Reading:
    """What ``read_mark`` found in a frame or a set of frames."""

    z: float
    """Height of the sync peak above all other shifts, in standard deviations."""
    payload: Tuple[int, int]
    """The two bytes read at the peak (meaningful when ``marked``)."""
    byte_z: Tuple[float, float]
    """Each byte's peak against its 256 candidate shifts."""
    chip: int
    """The chip size read (0: the frame is too small for any)."""
    frames: int = 1
    """How many frames were folded together."""

    @property
    def marked(self) -> bool:
        """The sync peak stands at least ``MARKED_Z`` standard deviations above the other shifts and the first byte
        is our format's."""
        return self.z >= MARKED_Z and self.payload[0] == FORMAT_BYTE


class Folder:
    """Accumulates the folded residual of frames (one per chip size), to be read once at the end (a video's frames
    carry one mark at one place, so their sum raises it above the content)."""

    def __init__(self, chips: Sequence[int] = CHIP_SIZES) -> None:
        self.chips = tuple(chips)
        self.folded: Dict[int, np.ndarray] = {}
        self.frames = 0

    def add(self, frame: np.ndarray) -> Reading:
        """Fold ``frame`` in; returns what the frame alone reads (its folded residual is computed once for both)."""
        self.frames += 1
        parts = {}
        for chip in self.chips:
            tile = CHIPS * chip
            if min(frame.shape[:2]) >= tile:
                parts[chip] = fold(weighted_residual(frame, chip), tile)
                self.folded[chip] = parts[chip] if chip not in self.folded else self.folded[chip] + parts[chip]
        return _best(parts, 1)

    def read(self) -> Reading:
        """The best chip size's reading (the highest sync peak) of every frame added."""
        return _best(self.folded, self.frames)


def _best(folded: Dict[int, np.ndarray], frames: int) -> Reading:
    """The reading of the chip size whose sync peak is highest."""
    readings = [_read(chip, part, frames) for chip, part in folded.items()]
    return max(readings, key=lambda r: r.z, default=Reading(0.0, (0, 0), (0.0, 0.0), 0, frames))


def _read(chip: int, folded: np.ndarray, frames: int) -> Reading:
    sync, *bytes_ = _correlations(folded, chip)
    peak = np.unravel_index(int(np.argmax(sync)), sync.shape)
    payload, byte_z = [], []
    for values in bytes_:
        rows = (peak[0] + chip * np.arange(CHIPS)) % folded.shape[0]
        cols = (peak[1] + chip * np.arange(CHIPS)) % folded.shape[1]
        candidates = values[np.ix_(rows, cols)]
        best = np.unravel_index(int(np.argmax(candidates)), candidates.shape)
        payload.append(int(best[0]) * 16 + int(best[1]))
        byte_z.append(_z(candidates, best))
    return Reading(_z(sync, peak), (payload[0], payload[1]), (byte_z[0], byte_z[1]), chip, frames)


def read_mark(frames: Iterable[np.ndarray], chips: Sequence[int] = CHIP_SIZES) -> Reading:
    """Read the mark from one frame or from several frames of one video together."""
    folder = Folder(chips)
    for frame in frames:
        folder.add(frame)
    return folder.read()


def run_byte(run_id: str) -> int:
    """The byte of a run identifier that the mark carries (its CRC-32's low byte)."""
    import zlib

    return zlib.crc32(run_id.encode("utf-8")) & 0xFF

"""Read the exact transfer ground truth that `minerf-synth` writes: identity A making video B's expression k under
A's pose k (``_ground_truth/transfer/<A>/<B>/<k>.jpg``), and A's own frames (``<A>/head_imgs/<k>.jpg``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np
from PIL import Image

from dataparsers.dataset_error import DatasetError
from minerf_ns.layout import BACKGROUND_FILE, GROUND_TRUTH_DIR, HEAD_IMAGES, frame_image


class TransferGroundTruth:
    """The transfer ground truth of a synthetic dataset root.

    Args:
        root: a `minerf-synth` dataset (with ``_ground_truth/meta.json``).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        meta_path = self.root / GROUND_TRUTH_DIR / "meta.json"
        if not meta_path.is_file():
            raise DatasetError(meta_path, "no ground truth (not a minerf-synth dataset)",
                               "evaluate on a dataset written by minerf-synth, or leave --data out: on the run's "
                               "own real footage the check needs no ground truth", tool="minerf-eval")  # fmt: skip
        self.meta = json.loads(meta_path.read_text())
        self.names: List[str] = [entry["name"] for entry in self.meta["identities"]]
        self.num_frames = int(self.meta["settings"]["num_frames"])
        self.num_train_frames = int(self.meta["num_train_frames"])

    @staticmethod
    def exists(root: Path) -> bool:
        """Whether ``root`` holds minerf-synth's transfer ground truth (``--no-transfer`` writes the meta data only)."""
        truth = Path(root) / GROUND_TRUTH_DIR
        return (truth / "meta.json").is_file() and (truth / "transfer").is_dir()

    def held_out_frames(self) -> List[int]:
        """Frame numbers held out of training (the last 10% of every video)."""
        return list(range(self.num_train_frames, self.num_frames))

    def expressions(self, name: str) -> np.ndarray:
        """Video ``name``'s expressions [T, d] (float32)."""
        return np.asarray(self.meta["identities"][self.names.index(name)]["expressions"], dtype=np.float32)

    def image_path(self, target: str, source: str, frame: int) -> Path:
        """The true image of ``target`` with ``source``'s expression ``frame`` under ``target``'s pose ``frame``."""
        if target == source:
            return self.root / target / HEAD_IMAGES / frame_image(frame)
        return self.root / GROUND_TRUTH_DIR / "transfer" / target / source / frame_image(frame)

    def image(self, target: str, source: str, frame: int) -> np.ndarray:
        """That image as float32 [H, W, 3] in [0, 1]."""
        path = self.image_path(target, source, frame)
        if not path.is_file():
            raise DatasetError(path, "missing transfer ground truth",
                               "generate the dataset with minerf-synth --transfer", tool="minerf-eval")  # fmt: skip
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0

    def expression_region(
        self, target: str, source: str, frame: int, image: Optional[np.ndarray] = None, dilate: int = 2
    ) -> np.ndarray:
        """The pixels that ``source``'s expression ``frame`` changes on ``target``: where the true transfer image
        (``image`` when the caller has it loaded) differs from ``target``'s own frame (same pose, its own expression)
        by more than 0.1 in a channel, grown by ``dilate`` pixels so that a closed mouth's edge counts. Bool [H, W];
        empty for ``target == source``. Scores here measure expression generalisation alone, where head-box scores are
        dominated by the unchanged face and hair."""
        own = self.image(target, target, frame)
        if target == source:
            return np.zeros(own.shape[:2], dtype=bool)
        image = self.image(target, source, frame) if image is None else image
        changed = (np.abs(image - own).max(-1) > 0.1).astype(np.uint8)
        return cv2.dilate(changed, np.ones((2 * dilate + 1, 2 * dilate + 1), np.uint8)).astype(bool)

    def background(self, name: str) -> np.ndarray:
        """Video ``name``'s background image float32 [H, W, 3]."""
        return np.asarray(Image.open(self.root / name / BACKGROUND_FILE).convert("RGB"), dtype=np.float32) / 255.0

"""Check a file for our watermark and statement: what ``minerf-verify`` reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import numpy as np

from minerf_ns.provenance import statement, watermark

MAX_FRAMES = 750
"""Frames of a video read by default (30 s at 25 fps): the mark is the same in every frame."""


class Unreadable(ValueError):
    """The file is neither an image nor a video we can decode."""


@dataclass(frozen=True)
class Verdict:
    """What a file carries."""

    path: Path
    kind: str
    """"image" or "video"."""
    reading: watermark.Reading
    """The mark read from the whole file (a video's frames together)."""
    frames_marked: int
    """Frames in which the mark is found on their own (images: 0 or 1)."""
    statement: Optional[Dict[str, Any]]
    """The statement in the file's metadata, if it has ours."""

    @property
    def synthetic(self) -> bool:
        """The file says it is a render: its pixels carry the mark or its metadata the statement."""
        return self.reading.marked or self.statement is not None

    @property
    def payload_matches(self) -> Optional[bool]:
        """Whether the mark's run byte is the statement's run's (None when either is missing)."""
        if not self.reading.marked or self.statement is None or not self.statement.get("run"):
            return None
        return self.reading.payload == (watermark.FORMAT_BYTE, watermark.run_byte(str(self.statement["run"])))

    def line(self) -> str:
        """One line for people."""
        r = self.reading
        if r.marked:
            mark = (f"watermark found (z {r.z:.1f}, threshold {watermark.MARKED_Z:g}; {self.frames_marked} of "
                    f"{r.frames} frame(s) alone; format {r.payload[0]}, run byte {r.payload[1]})")  # fmt: skip
        else:
            mark = f"no watermark (z {r.z:.1f} < {watermark.MARKED_Z:g} over {r.frames} frame(s))"
        if self.statement is None:
            said = "no statement"
        else:
            s = self.statement
            said = (f"statement: {s.get('tool')} {s.get('version')}, run {s.get('run')}, identities "
                    f"{', '.join(map(str, s.get('identities') or []))}")  # fmt: skip
            if self.payload_matches is not None:
                said += "; the mark's run byte " + ("matches it" if self.payload_matches else "does NOT match it")
        verdict = "SYNTHETIC (rendered by minerf_ns)" if self.synthetic else "no minerf_ns mark"
        return f"{self.path}: {verdict}: {mark}; {said}"

    def as_dict(self) -> Dict[str, Any]:
        r = self.reading
        return {
            "path": str(self.path),
            "kind": self.kind,
            "synthetic": self.synthetic,
            "watermark": {
                "found": r.marked,
                "z": round(r.z, 2),
                "threshold": watermark.MARKED_Z,
                "frames": r.frames,
                "frames_marked_alone": self.frames_marked,
                "payload": list(r.payload) if r.marked else None,
                "chip": r.chip,
            },  # fmt: skip
            "statement": self.statement,
            "payload_matches_statement": self.payload_matches,
        }


def video_frames(path: Path, max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
    """A video's frames, uint8 [H, W, 3], decoded one at a time by the ffmpeg imageio-ffmpeg ships."""
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as err:
        detail = str(err).strip().splitlines()[-1][:80] if str(err).strip() else type(err).__name__
        raise Unreadable(f"is neither an image nor a video ffmpeg can decode ({detail})") from err
    width, height = meta["size"]
    try:
        for count, data in enumerate(reader):
            if max_frames is not None and count >= max_frames:
                break
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
    finally:
        reader.close()


def verify(path: Path, max_frames: int = MAX_FRAMES) -> Verdict:
    """Read ``path``'s mark and statement.

    Raises:
        FileNotFoundError: no such file.
        Unreadable: not an image or a video.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise FileNotFoundError(str(path))
    if path.is_dir():
        raise Unreadable("is a folder, not a file")
    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) == 1:
                frame = np.asarray(image.convert("RGB"))
                reading = watermark.read_mark([frame])
                said = statement.parse(getattr(image, "text", {}).get(statement.KEY)) if image.format == "PNG" else None
                return Verdict(path, "image", reading, int(reading.marked), said)
    except UnidentifiedImageError:
        pass
    except OSError as err:
        raise Unreadable(f"is a damaged image ({err})") from err
    folder = watermark.Folder()
    marked = 0
    for frame in video_frames(path, max_frames):
        marked += int(folder.add(frame).marked)
    if folder.frames == 0:
        raise Unreadable("holds no decodable frame")
    return Verdict(path, "video", folder.read(), marked, statement.read_video_statement(path))

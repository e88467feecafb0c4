"""The statement a rendered file carries: a JSON object naming the tool, its version, the run and the identities
rendered, written into PNG text chunks and mp4 metadata, and read back from them.

No C2PA content credentials: signing them needs a certificate chain that validators trust (a per-installation
self-signed key would be reported as untrusted), and the ``c2pa-python`` wheels bring a native library this project
does not otherwise need; a plain tag that says what it is, beside the pixel mark, is what every file gets.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from minerf_ns.provenance import watermark


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


KEY = "minerf-provenance"
"""The PNG text chunk's keyword; in mp4 files the statement is the ``comment`` tag, prefixed with it."""
TOOL = "minerf_ns"


@dataclass(frozen=True)
class Provenance:
    """Who made a render: what the statement says and the watermark carries."""

    run: str
    """The run's identifier: ``<experiment>/<method>/<timestamp>`` of its config.yml."""
    identities: Tuple[str, ...]
    """The identities rendered."""
    command: str
    """The command that rendered it (``minerf-render speak``)."""
    watermark: bool = True
    """Add the invisible mark to the pixels (``--no-watermark`` turns it off; the statement stays)."""
    created: str = field(default_factory=lambda: _now())
    """When (UTC)."""

    @property
    def payload(self) -> Tuple[int, int]:
        """The two bytes the mark holds: the mark's format, and a byte of the run identifier."""
        return watermark.FORMAT_BYTE, watermark.run_byte(self.run)

    def mark(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` with the mark (unchanged when the mark is off)."""
        return watermark.embed(frame, self.payload) if self.watermark else frame

    def statement(self) -> Dict[str, Any]:
        return {
            "synthetic": True,
            "tool": TOOL,
            "version": _version(),
            "command": self.command,
            "run": self.run,
            "identities": list(self.identities),
            "watermark": {"format": self.payload[0], "run_byte": self.payload[1]} if self.watermark else None,
            "created": self.created,
            "note": "AI-generated talking-head video: a rendered face, not a recording.",
        }

    def text(self) -> str:
        """The statement as one line of JSON."""
        return json.dumps(self.statement(), ensure_ascii=True, separators=(",", ":"))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL)
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def run_identifier(experiment: Optional[str], method: str, timestamp: str) -> str:
    """A run's identifier from its config's names."""
    return f"{experiment or 'unnamed'}/{method}/{timestamp}"


def png_info(provenance: Provenance):
    """PNG text chunks holding the statement (for PIL's ``save(pnginfo=...)``)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(KEY, provenance.text())
    info.add_text("Software", f"{TOOL} (synthetic: AI-generated)")
    return info


def video_metadata(provenance: Provenance) -> List[str]:
    """ffmpeg options that write the statement into an mp4's metadata."""
    return ["-metadata", f"comment={KEY}:{provenance.text()}", "-metadata", f"encoder={TOOL}"]


def parse(text: Optional[str]) -> Optional[Dict[str, Any]]:
    """A statement from a tag's text (None when the text is not ours)."""
    if not text:
        return None
    text = text.strip()
    if text.startswith(KEY + ":"):
        text = text[len(KEY) + 1 :]
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("tool") == TOOL else None


def read_png_statement(path: Path) -> Optional[Dict[str, Any]]:
    from PIL import Image

    with Image.open(path) as image:
        return parse(getattr(image, "text", {}).get(KEY))


def read_video_statement(path: Path) -> Optional[Dict[str, Any]]:
    """The statement in a video's ``comment`` tag, read with the ffmpeg that imageio-ffmpeg ships."""
    import subprocess

    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-f", "ffmetadata", "-"]
    result = subprocess.run(command, capture_output=True)
    for line in _unescape_ffmetadata(result.stdout.decode("utf-8", errors="replace")):
        if line.startswith("comment="):
            return parse(line[len("comment=") :])
    return None


def _unescape_ffmetadata(text: str) -> Sequence[str]:
    """ffmetadata's lines, with its backslash escapes (of =, ;, #, \\ and newlines) undone."""
    lines, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "\n":
            lines.append("".join(current))
            current = []
        else:
            current.append(char)
    lines.append("".join(current))
    return lines

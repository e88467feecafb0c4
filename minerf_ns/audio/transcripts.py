"""What ``--transcript`` names: the words themselves, a text file of them, or a timed transcript (GRID's ``.align``
files), read with errors that name the transcript rather than the audio."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from jaxtyping import Float

from minerf_ns.audio.phones import Phone, SpeechMismatch, TranscriptError, align_phones, phones_from_timed_words
from minerf_ns.audio.waveform import SAMPLE_RATE

TEXT_SUFFIXES = (".txt",)
"""Files of words (any letter case)."""
TIMED_SUFFIXES = (".align",)
"""Timed transcripts: lines ``start end word`` in 1/25,000 s (GRID's word alignments)."""
ALIGN_TICKS_PER_S = 25000.0


@dataclass(frozen=True)
class Transcript:
    """A transcript and where it came from (``--transcript`` or a file), for messages."""

    source: str
    text: Optional[str] = None
    """Words to align to the audio."""
    timed_words: Optional[List[Tuple[float, float, str]]] = None
    """Or words with their own times (s): no alignment needed."""

    def phones(self, samples: Float[np.ndarray, " samples"]) -> List[Phone]:
        """The timed phones of ``samples`` (16 kHz mono) that this transcript describes.

        Raises:
            TranscriptError: words the dictionary lacks or no words, naming the transcript.
            SpeechMismatch: the audio does not say the words (the caller names both).
        """
        try:
            if self.timed_words is not None:
                return phones_from_timed_words(self.timed_words, len(samples) / SAMPLE_RATE)
            return align_phones(samples, self.text or "")
        except SpeechMismatch:
            raise
        except TranscriptError as err:
            raise TranscriptError(f"{self.source}: {err}") from None


def read_transcript(value: str) -> Transcript:
    """``--transcript``'s value: an existing file is read (``.align`` as timed words, anything else as UTF-8 text); a
    value that names a file (a path separator, or a ``.txt``/``.align`` suffix in any case) but finds none is an
    error; anything else is the words themselves.

    Raises:
        TranscriptError: a named file that is missing, a folder, not UTF-8 text, or a malformed timed transcript.
    """
    path = Path(value)
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError:  # a sentence longer than a file name can be
        exists = is_file = False
    suffix = path.suffix.lower()
    if is_file:
        text = read_text_file(path)
        if suffix in TIMED_SUFFIXES:
            return Transcript(str(path), timed_words=parse_timed_words(text, path))
        return Transcript(str(path), text=text)
    if exists:
        raise TranscriptError(f"{path}: is a folder, not a transcript file")
    if "/" in value or os.sep in value or suffix in TEXT_SUFFIXES + TIMED_SUFFIXES:
        raise TranscriptError(f"{value}: no such transcript file")
    return Transcript("--transcript", text=value)


def read_text_file(path: Path) -> str:
    """A transcript file's text (UTF-8, with or without a byte-order mark).

    Raises:
        TranscriptError: the file holds binary data or another encoding.
    """
    data = path.read_bytes()
    if b"\0" in data:
        raise TranscriptError(f"{path}: is not a text file (it holds binary data: NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TranscriptError(f"{path}: is not UTF-8 text (byte {err.start} cannot be decoded); save it as UTF-8"
                              ) from None  # fmt: skip


def parse_timed_words(text: str, path: Path) -> List[Tuple[float, float, str]]:
    """Lines ``start end word`` (``.align``: in 1/25,000 s) as (start s, end s, word).

    Raises:
        TranscriptError: a line that is not ``start end word``.
    """
    scale = 1.0 / ALIGN_TICKS_PER_S if path.suffix.lower() in TIMED_SUFFIXES else 1.0
    words = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            words.append((float(parts[0]) * scale, float(parts[1]) * scale, parts[2]))
        except (ValueError, IndexError):
            raise TranscriptError(f"{path} line {number} is not 'start end word': {line[:40]!r}") from None
    return words


def read_timed_words(path: Path) -> List[Tuple[float, float, str]]:
    """A timed transcript file's words (see ``parse_timed_words``)."""
    path = Path(path)
    return parse_timed_words(read_text_file(path), path)

"""Timed phones, offline, from pocketsphinx's en-us acoustic model, phone language model and pronouncing dictionary,
all shipped inside the ``pocketsphinx`` wheel (nothing is downloaded): recognised from the sound alone, or aligned to
a transcript of what is said (exact phones, only their times are searched)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from jaxtyping import Float

from minerf_ns.audio.waveform import SAMPLE_RATE

SILENCE = "SIL"
"""The label of pauses (pocketsphinx's noise tokens such as ``+NSN+`` are reported as this too)."""


@dataclass(frozen=True)
class Phone:
    """One recognised phone (ARPAbet, upper case, no stress digit) and its time span in seconds."""

    label: str
    start_s: float
    end_s: float

    @property
    def centre_s(self) -> float:
        return 0.5 * (self.start_s + self.end_s)


class TranscriptError(ValueError):
    """A transcript that cannot be aligned to its audio (words the dictionary lacks, or speech that does not match)."""


def _decoder(**options):
    from pocketsphinx import Decoder, get_model_path

    model = os.path.join(get_model_path(), "en-us")
    return Decoder(hmm=os.path.join(model, "en-us"), dict=os.path.join(model, "cmudict-en-us.dict"),
                   samprate=SAMPLE_RATE, loglevel="FATAL", **options)  # fmt: skip


def _pcm(samples: Float[np.ndarray, " samples"]) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def recognize_phones(samples: Float[np.ndarray, " samples"]) -> List[Phone]:
    """The phones of a 16 kHz mono waveform, in time order, covering it without gaps.

    pocketsphinx reports at 100 frames a second; a phone spans its first frame's start to its last frame's end.
    """
    from pocketsphinx import get_model_path

    decoder = _decoder(allphone=os.path.join(get_model_path(), "en-us", "en-us-phone.lm.bin"), lw=2.0, beam=1e-20,
                       pbeam=1e-20)  # fmt: skip
    frame_rate = float(decoder.config["frate"])
    decoder.start_utt()
    decoder.process_raw(_pcm(samples), full_utt=True)
    decoder.end_utt()
    phones = []
    for segment in decoder.seg():
        label = segment.word.upper()
        label = label if label.isalpha() else SILENCE  # +NSN+, +SPN+, <sil>: noise and pauses
        phones.append(Phone(label, segment.start_frame / frame_rate, (segment.end_frame + 1) / frame_rate))
    return phones


def transcript_words(transcript: str) -> List[str]:
    """The dictionary's spelling of a transcript's words: lower case, letters and apostrophes; digits and other
    signs separate words (write numbers as words)."""
    return re.sub(r"[^a-z']+", " ", transcript.lower()).split()


def align_phones(samples: Float[np.ndarray, " samples"], transcript: str) -> List[Phone]:
    """The phones of ``transcript`` aligned to a 16 kHz mono waveform of it being said, covering it without gaps
    (pauses as silence). Exact phones (the dictionary's pronunciation), where recognition from the sound alone misses
    many, most of all the silent closures of p and b.

    Raises:
        TranscriptError: a word the dictionary lacks, or the speech cannot be aligned to the words.
    """
    words = transcript_words(transcript)
    decoder = _decoder()
    unknown = [w for w in words if decoder.lookup_word(w) is None]
    if not words or unknown:
        raise TranscriptError(f"words not in the pronouncing dictionary: {' '.join(unknown)}" if unknown else
                              "the transcript has no words")  # fmt: skip
    frame_rate = float(decoder.config["frate"])
    pcm = _pcm(samples)
    decoder.set_align_text(" ".join(words))
    for words_pass in (True, False):  # words first; then, from their alignment, the phones
        try:
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            if decoder.seg() is None:
                raise RuntimeError("no alignment reached the transcript's end")
            if words_pass:
                decoder.set_alignment()
        except RuntimeError:  # pocketsphinx's way of saying the search found no path through the words
            raise TranscriptError(
                "the speech could not be aligned to the transcript (does it say those words?)"
            ) from None
    phones: List[Phone] = []
    for word in decoder.get_alignment():
        for phone in word:
            start, end = phone.start / frame_rate, (phone.start + phone.duration) / frame_rate
            if phones and start > phones[-1].end_s + 1e-6:
                phones.append(Phone(SILENCE, phones[-1].end_s, start))
            phones.append(Phone(phone.name.upper() if phone.name.isalpha() else SILENCE, start, end))
    duration = len(samples) / SAMPLE_RATE
    if phones and phones[0].start_s > 0:
        phones.insert(0, Phone(SILENCE, 0.0, phones[0].start_s))
    if phones and phones[-1].end_s < duration:
        phones.append(Phone(SILENCE, phones[-1].end_s, duration))
    return phones


VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
"""ARPAbet vowels: a vowel takes twice a consonant's share of its word's time (``phones_from_timed_words``)."""


def phones_from_timed_words(words: Sequence[tuple[float, float, str]], duration_s: float) -> List[Phone]:
    """The phones of words whose times are known (a timed transcript, such as GRID's word alignments), covering
    ``[0, duration_s]``: each word's dictionary phones share its span (a vowel twice a consonant's share); gaps and
    ``sil``/``sp`` entries are silence.

    Raises:
        TranscriptError: a word the dictionary lacks.
    """
    decoder = _decoder()
    phones: List[Phone] = []
    unknown = []
    for start, end, word in sorted(words):
        if word.lower() in ("sil", "sp", ""):
            continue
        spelling = decoder.lookup_word(word.lower())
        if spelling is None:
            unknown.append(word)
            continue
        labels = spelling.split()
        shares = np.cumsum([0.0] + [2.0 if label in VOWELS else 1.0 for label in labels])
        times = start + (end - start) * shares / shares[-1]
        if (phones[-1].end_s if phones else 0.0) < start - 1e-6:
            phones.append(Phone(SILENCE, phones[-1].end_s if phones else 0.0, start))
        phones += [Phone(label, float(a), float(b)) for label, a, b in zip(labels, times[:-1], times[1:])]
    if unknown:
        raise TranscriptError(f"words not in the pronouncing dictionary: {' '.join(unknown)}")
    if (phones[-1].end_s if phones else 0.0) < duration_s:
        phones.append(Phone(SILENCE, phones[-1].end_s if phones else 0.0, duration_s))
    return phones


def read_timed_words(path) -> List[tuple[float, float, str]]:
    """A timed transcript: lines ``start end word``; GRID's ``.align`` files count in 1/25,000 s, other files in
    seconds.

    Raises:
        TranscriptError: a line that is not ``start end word``.
    """
    from pathlib import Path

    path = Path(path)
    scale = 1.0 / 25000.0 if path.suffix == ".align" else 1.0
    words = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            words.append((float(parts[0]) * scale, float(parts[1]) * scale, parts[2]))
        except (ValueError, IndexError):
            raise TranscriptError(f"{path} line {number} is not 'start end word': {line[:40]!r}") from None
    return words


def timed_phones(samples: Float[np.ndarray, " samples"], transcript: Optional[str] = None) -> List[Phone]:
    """The phones of the audio: aligned to ``transcript`` when one is given, else recognised from the sound."""
    return recognize_phones(samples) if transcript is None else align_phones(samples, transcript)

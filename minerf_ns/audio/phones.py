"""Timed phones, offline, from pocketsphinx's en-us acoustic model, phone language model and pronouncing dictionary,
all shipped inside the ``pocketsphinx`` wheel (nothing is downloaded): recognised from the sound alone, or aligned to
a transcript of what is said (exact phones, only their times are searched)."""

from __future__ import annotations

import os
import re
import unicodedata
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
    for segment in decoder.seg() or []:  # None: too little sound for one frame
        label = segment.word.upper()
        label = label if label.isalpha() else SILENCE  # +NSN+, +SPN+, <sil>: noise and pauses
        phones.append(Phone(label, segment.start_frame / frame_rate, (segment.end_frame + 1) / frame_rate))
    return phones or [Phone(SILENCE, 0.0, len(samples) / SAMPLE_RATE)]


def transcript_words(transcript: str) -> List[str]:
    """A transcript's words as written, lower case: runs of letters (any alphabet) with inner apostrophes; digits and
    other signs separate words (write numbers as words)."""
    return re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*", transcript.lower())


def dictionary_spelling(word: str) -> str:
    """How the (ASCII) pronouncing dictionary spells a written word: accents dropped ("café" -> "cafe"); letters
    without an ASCII form are kept, so the word is reported as written."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return folded if folded.isascii() else word


def _not_in_dictionary(words: Sequence[str]) -> TranscriptError:
    more = f" ... ({len(words)} in all)" if len(words) > 8 else ""
    return TranscriptError(f"words not in the pronouncing dictionary: {' '.join(words[:8])}{more}")


class SpeechMismatch(TranscriptError):
    """The audio does not say the transcript's words (the alignment finds no path, or leaves speech outside them)."""


ALIGN_RETRY = dict(beam=1e-120, pbeam=1e-120, wbeam=1e-100, fwdflat=False, bestpath=False)
"""Wider searches for a second alignment try: pocketsphinx's default beams lose the path on many correct transcripts
(espeak-ng's default voice; 1 of 4 GRID sentences), these aligned all 8 of our probes."""
MAX_SPEECH_OUTSIDE_WORDS = 0.35
"""At most this share of the audio's loud frames may fall in the alignment's pauses: measured 0.00-0.15 for correct
transcripts (4 espeak-ng sentences, 4 GRID sentences), 0.51-0.85 for "hello" and 0.67-0.93 for the first quarter of
the words."""


def speech_outside_words(samples: Float[np.ndarray, " samples"], phones: Sequence[Phone]) -> float:
    """The share of the audio's loud 10 ms frames (20 dB over its floor, within 30 dB of its peak) that ``phones``
    label as silence: the speech a transcript's words leave out."""
    hop = SAMPLE_RATE // 100
    count = len(samples) // hop
    if count == 0:
        return 0.0
    level = 10 * np.log10(np.mean(samples[: count * hop].reshape(count, hop) ** 2, axis=1) + 1e-12)
    loud = level > max(np.percentile(level, 10) + 20, level.max() - 30)
    pause = np.zeros(count, dtype=bool)
    for phone in phones:
        if phone.label == SILENCE:
            pause[int(round(phone.start_s * 100)) : int(round(phone.end_s * 100))] = True
    return float((loud & pause).sum() / max(loud.sum(), 1))


def align_phones(samples: Float[np.ndarray, " samples"], transcript: str) -> List[Phone]:
    """The phones of ``transcript`` aligned to a 16 kHz mono waveform of it being said, covering it without gaps
    (pauses as silence). Exact phones (the dictionary's pronunciation), where recognition from the sound alone misses
    many, most of all the silent closures of p and b.

    Raises:
        TranscriptError: no words, or words the dictionary lacks.
        SpeechMismatch: the speech cannot be aligned to the words, or much of it falls outside them.
    """
    words = transcript_words(transcript)
    spellings = [dictionary_spelling(w) for w in words]
    decoder = _decoder()
    unknown = [w for w, spelt in zip(words, spellings) if not spelt.isascii() or decoder.lookup_word(spelt) is None]
    if not words:
        raise TranscriptError("has no words (letters)")
    if unknown:
        raise _not_in_dictionary(unknown)
    pcm, words_text = _pcm(samples), " ".join(spellings)
    if not _align(decoder, pcm, words_text):  # the lookup's decoder first; a new, wider one only when it fails
        decoder = _decoder(**ALIGN_RETRY)
        if not _align(decoder, pcm, words_text):
            raise SpeechMismatch("the speech could not be aligned to the words (does it say them?)")
    phones = _aligned_phones(decoder, len(samples) / SAMPLE_RATE)
    outside = speech_outside_words(samples, phones)
    if outside > MAX_SPEECH_OUTSIDE_WORDS:
        raise SpeechMismatch(f"{outside:.0%} of the speech falls outside the words (does it say them, all of them?)")
    return phones


def _align(decoder, pcm: bytes, words: str) -> bool:
    """Align ``words`` to the audio in two passes (words, then from them the phones); False when no path is found."""
    decoder.set_align_text(words)
    for words_pass in (True, False):
        try:
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            if decoder.seg() is None:
                return False
            if words_pass:
                decoder.set_alignment()
        except RuntimeError:  # pocketsphinx's way of saying the search found no path through the words
            return False
    return True


def _aligned_phones(decoder, duration: float) -> List[Phone]:
    """The phones of a decoder's alignment, covering ``[0, duration]`` (gaps as silence)."""
    frame_rate = float(decoder.config["frate"])
    phones: List[Phone] = []
    for word in decoder.get_alignment():
        for phone in word:
            start, end = phone.start / frame_rate, (phone.start + phone.duration) / frame_rate
            if phones and start > phones[-1].end_s + 1e-6:
                phones.append(Phone(SILENCE, phones[-1].end_s, start))
            phones.append(Phone(phone.name.upper() if phone.name.isalpha() else SILENCE, start, end))
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
        spelling = decoder.lookup_word(dictionary_spelling(word.lower()))
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
        raise _not_in_dictionary(unknown)
    if (phones[-1].end_s if phones else 0.0) < duration_s:
        phones.append(Phone(SILENCE, phones[-1].end_s if phones else 0.0, duration_s))
    return phones


def timed_phones(samples: Float[np.ndarray, " samples"], transcript: Optional[str] = None) -> List[Phone]:
    """The phones of the audio: aligned to ``transcript`` when one is given, else recognised from the sound."""
    return recognize_phones(samples) if transcript is None else align_phones(samples, transcript)

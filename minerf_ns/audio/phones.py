"""Timed phone recognition, offline: pocketsphinx's en-us acoustic model and phone language model, both shipped inside
the ``pocketsphinx`` wheel (nothing is downloaded)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List

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


def recognize_phones(samples: Float[np.ndarray, " samples"]) -> List[Phone]:
    """The phones of a 16 kHz mono waveform, in time order, covering it without gaps.

    pocketsphinx reports at 100 frames a second; a phone spans its first frame's start to its last frame's end.
    """
    from pocketsphinx import Decoder, get_model_path

    model = get_model_path()
    decoder = Decoder(
        hmm=os.path.join(model, "en-us", "en-us"),
        allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
        lw=2.0, beam=1e-20, pbeam=1e-20, samprate=SAMPLE_RATE, loglevel="FATAL",
    )  # fmt: skip
    frame_rate = float(decoder.config["frate"])
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    phones = []
    for segment in decoder.seg():
        label = segment.word.upper()
        label = label if label.isalpha() else SILENCE  # +NSN+, +SPN+, <sil>: noise and pauses
        phones.append(Phone(label, segment.start_frame / frame_rate, (segment.end_frame + 1) / frame_rate))
    return phones

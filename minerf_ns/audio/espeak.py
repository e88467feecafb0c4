"""Speech with known phoneme times from Debian's espeak-ng (``libespeak-ng.so.1``, through ctypes): for tests and
benchmarks of the phone timing and the lip closures, and the demo's spoken clip. Optional: ``available()`` says
whether the library is installed (``apt-get install espeak-ng``)."""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

LIBRARY = "libespeak-ng.so.1"
_PHONEME_EVENT, _LIST_END = 7, 0
_SYNCHRONOUS, _PHONEME_EVENTS, _DONT_EXIT = 2, 0x0001, 0x8000


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]  # fmt: skip


@dataclass(frozen=True)
class SpokenPhoneme:
    """A phoneme espeak-ng spoke (its own mnemonic, e.g. 'p', 'aI') and when it starts and ends (seconds)."""

    name: str
    start_s: float
    end_s: float


def _library() -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL(LIBRARY)
    except OSError:
        return None


def available() -> bool:
    """True when libespeak-ng can be loaded."""
    return _library() is not None


def speak(text: str, voice: str = "en-us", words_per_minute: int = 160) -> Tuple[np.ndarray, int, List[SpokenPhoneme]]:
    """(int16 samples, sample rate, phonemes with their times) of ``text`` spoken by espeak-ng.

    Raises:
        OSError: libespeak-ng is not installed.
    """
    lib = _library()
    if lib is None:
        raise OSError(f"{LIBRARY} not found: install Debian's espeak-ng")
    rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS | _DONT_EXIT)
    lib.espeak_SetVoiceByName(voice.encode())
    lib.espeak_SetParameter(1, words_per_minute, 0)  # espeakRATE
    chunks, starts = [], []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
    def collect(wav, count, events):
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        k = 0
        while events[k].type != _LIST_END:
            if events[k].type == _PHONEME_EVENT:
                starts.append((events[k].id.decode(errors="replace"), events[k].audio_position / 1000.0))
            k += 1
        return 0

    lib.espeak_SetSynthCallback(collect)
    encoded = text.encode()
    lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, 0, None, None)
    lib.espeak_Synchronize()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    ends = [t for _, t in starts[1:]] + [len(samples) / rate]
    phonemes = [SpokenPhoneme(name, start, end) for (name, start), end in zip(starts, ends)]
    return samples, rate, phonemes


BILABIAL_PHONEMES = ("p", "b", "m")
"""espeak-ng's mnemonics of the lip closures."""

"""Reading any audio (a wav, an mp3, a video's sound track) as 16 kHz mono float32 with the ffmpeg that
imageio-ffmpeg ships, and writing 16 kHz mono 16-bit wav files (AD-NeRF's ``aud.wav``).

Errors are ``AudioInputError``: one line with the file and the fix.
"""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path
from typing import Optional

import numpy as np
from jaxtyping import Float

SAMPLE_RATE = 16000
"""Every waveform of this package is at this rate, mono (what pocketsphinx's acoustic model and AD-NeRF expect)."""
RATE_RANGE = (4000, 384000)
"""Input sample rates (Hz) converted to ``SAMPLE_RATE``; outside this a header is broken (a 1 Hz wav would become hours
of audio) or the recording cannot carry speech."""
SILENCE_RMS = 1e-3
"""A file whose RMS (full scale 1) is below this has no speech to follow (-60 dBFS)."""
MIN_SPEECH_S = 0.1
"""Speech shorter than this holds no phone to follow (pocketsphinx needs a few 10 ms frames per phone)."""


class AudioInputError(Exception):
    """A problem with the user's audio file, with the file and the fix."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}. Fix: {fix}")


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def read_audio(
    path: Path,
    duration_s: Optional[float] = None,
    require_sound: bool = True,
    max_padding_s: Optional[float] = None,
) -> Float[np.ndarray, " samples"]:
    """The first audio stream of ``path`` as mono float32 at ``SAMPLE_RATE`` (ffmpeg downmixes and resamples).

    Args:
        path: any file ffmpeg reads (wav, flac, mp3, ogg, m4a, or a video with sound).
        duration_s: pad with silence or cut to exactly this length (frames <-> samples stay aligned).
        require_sound: raise when the audio is silent or shorter than ``MIN_SPEECH_S``.
        max_padding_s: raise when reaching ``duration_s`` would take more silence than this (a sound track shorter
            than the frames it is said to accompany); None: pad any amount.

    Raises:
        AudioInputError: missing, no audio stream, undecodable, 0 s long, a rate ffmpeg cannot convert, silent, too
            short for speech, or shorter than ``duration_s`` by more than ``max_padding_s``.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(path, "does not exist" if not path.exists() else "is not a file",
                              "pass an audio file (wav, flac, mp3, ...)")  # fmt: skip
    if path.stat().st_size == 0:
        raise AudioInputError(path, "is empty (0 bytes)", "pass a complete audio file")
    readable, rate = _probe(path)
    if readable and rate is None:
        raise AudioInputError(path, "has no audio stream", "pass a file with sound (a wav, or a video with audio)")
    if rate is not None and not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise AudioInputError(path, f"its sample rate ({rate} Hz) cannot be converted to {SAMPLE_RATE} Hz (accepted: "
                              f"{RATE_RANGE[0]} to {RATE_RANGE[1]} Hz)", "re-export the audio at a standard rate such "
                              "as 16000, 44100 or 48000 Hz")  # fmt: skip
    filters = "aresample=async=1:first_pts=0"  # leading silence where the sound starts late: sample 0 is time 0
    command = [_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-vn", "-af", filters,
               "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]  # fmt: skip
    result = subprocess.run(command, capture_output=True)
    message = result.stderr.decode(errors="replace").strip().splitlines()
    if result.returncode == 0 and not result.stdout and readable:
        raise AudioInputError(path, "is 0 s long (an audio stream without samples)", "pass a recording with speech")
    if result.returncode != 0 or not result.stdout:
        reason = message[-1] if message else "no samples decoded"
        if "sample rate" in reason.lower() or "resampl" in reason.lower():
            raise AudioInputError(path, f"its sample rate cannot be converted to {SAMPLE_RATE} Hz ({reason[:80]})",
                                  "convert it to a common rate (e.g. 16000 or 44100 Hz) first")  # fmt: skip
        raise AudioInputError(path, f"cannot be decoded ({reason[:100]})", "pass a valid wav, flac, mp3 or ogg file")
    samples = np.frombuffer(result.stdout, dtype="<i2").astype(np.float32) / 32768.0
    seconds = len(samples) / SAMPLE_RATE
    if require_sound and seconds < MIN_SPEECH_S:
        raise AudioInputError(path, f"is {seconds:.3f} s long ({len(samples)} of {SAMPLE_RATE} samples a second), "
                              "too short to hold speech", f"pass at least {MIN_SPEECH_S:g} s of speech")  # fmt: skip
    if require_sound and float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS:
        raise AudioInputError(path, f"is silent (RMS below {SILENCE_RMS:g} of full scale over "
                              f"{seconds:.2f} s)", "pass a recording with speech")  # fmt: skip
    if duration_s is not None:
        if max_padding_s is not None and duration_s - seconds > max_padding_s:
            raise AudioInputError(path, f"is {seconds:.2f} s long, but the frames it accompanies span {duration_s:.2f}"
                                  f" s (more than {max_padding_s:g} s would be silence)", "give the video its whole "
                                  "sound track (extract aud.wav again from the source video), or remove the frames "
                                  "it lacks sound for")  # fmt: skip
        wanted = int(round(duration_s * SAMPLE_RATE))
        samples = np.pad(samples[:wanted], (0, max(0, wanted - len(samples))))
    return samples


def _probe(path: Path) -> tuple[bool, Optional[int]]:
    """(whether ffmpeg can open ``path`` at all, the sample rate it reports for the first audio stream or None)."""
    result = subprocess.run([_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True)
    text = result.stderr.decode(errors="replace")
    match = re.search(r"Audio: [^\n]*?(\d+) Hz", text)
    return "Input #0" in text, (int(match.group(1)) if match else None)


def has_audio_stream(path: Path) -> bool:
    """True when ffmpeg finds an audio stream in ``path`` (a video file may have none)."""
    return _probe(path)[1] is not None


def write_wav(path: Path, samples: Float[np.ndarray, " samples"]) -> None:
    """Write mono 16-bit PCM at ``SAMPLE_RATE`` (into a temporary name first, then moved into place)."""
    from minerf_ns.media import temporary_sibling

    path = Path(path)
    partial = temporary_sibling(path)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    try:
        with wave.open(str(partial), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(pcm.tobytes())
        partial.replace(path)
    finally:
        if partial.exists():
            partial.unlink()


def frame_times(num_frames: int, fps: float) -> Float[np.ndarray, " T"]:
    """The time (s) at which video frame k is shown: k / fps (frame k covers [k/fps, (k+1)/fps))."""
    return np.arange(num_frames, dtype=np.float64) / fps

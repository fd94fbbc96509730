"""The five test sounds of the perceptual-loss experiment, made here: espeak-ng speech and soundfont music.

Each is ``num_samples`` samples at ``sample_rate`` (0.74 s at the experiment's 8192 samples and 11025 Hz), with
10 ms raised-cosine fades at both ends (no clicks from the crop) and max-abs normalised to 1. Music comes from
:class:`spectrolab.data.clips.ClipRenderer` (dry FluidSynth) playing hand-written notes; speech from the
``espeak-ng`` command (Debian package ``espeak-ng``), resampled with soxr.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from spectrolab.audio.io import resample
from spectrolab.data.clips import DRUM_CHANNEL, HIHAT, KICK, SNARE, ClipRenderer, ClipSpec, Note
from spectrolab.data.soundfont import DEFAULT_SOUNDFONT
from spectrolab.errors import ConfigError, DataError

SPEECH_TEXT = "Chase the fish"
CRASH, OPEN_HIHAT, HIGH_TOM, MID_TOM, LOW_TOM = 49, 46, 50, 47, 45
PIANO, BASS, PAD, LEAD = 0, 33, 89, 80  # GM: acoustic grand, finger bass, warm pad, square lead
SIXTEENTH = 0.125  # seconds: sixteenth notes at 120 BPM


def finish(wave: np.ndarray, *, sample_rate: int, num_samples: int) -> np.ndarray:
    """Crop or zero-pad to ``num_samples``, fade 10 ms in and out, and scale to max-abs 1."""
    out = np.zeros(num_samples, dtype=np.float64)
    out[: min(num_samples, len(wave))] = wave[:num_samples]
    fade = max(1, round(0.01 * sample_rate))
    ramp = np.sin(np.linspace(0, np.pi / 2, fade)) ** 2
    out[:fade] *= ramp
    out[-fade:] *= ramp[::-1]
    peak = np.abs(out).max()
    if peak == 0:
        raise DataError("a test sound rendered silent")
    return (out / peak).astype(np.float32)


def speech(*, sample_rate: int, num_samples: int, text: str = SPEECH_TEXT) -> np.ndarray:
    """``text`` spoken by espeak-ng (en-us, 175 words/min), leading silence trimmed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DataError("espeak-ng not found; install the Debian package espeak-ng (scripts/sysdeps.sh does)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", "en-us", "-s", "175", "-w", str(path), text], check=True, capture_output=True)
        wave, rate = sf.read(path, dtype="float32")
    start = int(np.flatnonzero(np.abs(wave) > 0.01 * np.abs(wave).max())[0])
    wave = resample(wave[start:], orig_sample_rate=rate, sample_rate=sample_rate)
    return finish(wave, sample_rate=sample_rate, num_samples=num_samples)


def _render(clip: ClipSpec, *, sample_rate: int, num_samples: int, soundfont: str) -> np.ndarray:
    with ClipRenderer(soundfont, sample_rate=sample_rate) as renderer:
        wave = renderer.render(clip)
    return finish(wave, sample_rate=sample_rate, num_samples=num_samples)


def _clip(seconds: float, programs: dict[str, int], notes: list[Note], *, drums: bool) -> ClipSpec:
    return ClipSpec(seconds, 120.0, 0, "major", programs, drums, tuple(sorted(notes, key=lambda n: n.start)))


def _groove(seconds: float) -> list[Note]:
    """Kick on 1 and the "and" of 2, snare on 2, closed hi-hat sixteenths."""
    steps = int(np.ceil(seconds / SIXTEENTH))
    notes = [Note(DRUM_CHANNEL, HIHAT, 70 + 20 * (k % 2 == 0), k * SIXTEENTH, SIXTEENTH / 2) for k in range(steps)]
    notes += [Note(DRUM_CHANNEL, KICK, 110, t, 0.1) for t in (0.0, 3 * SIXTEENTH)]
    notes += [Note(DRUM_CHANNEL, SNARE, 105, 4 * SIXTEENTH, 0.1)]
    return notes


def piano(*, sample_rate: int, num_samples: int, soundfont: str = DEFAULT_SOUNDFONT) -> np.ndarray:
    """A C major phrase on the acoustic grand: a left-hand chord under a sixteenth-note arpeggio."""
    seconds = num_samples / sample_rate
    melody = [72, 76, 79, 84, 79, 76, 74, 77]
    notes = [Note(0, p, 90, k * SIXTEENTH * 0.75, SIXTEENTH * 0.7) for k, p in enumerate(melody)]
    notes += [Note(0, p, 70, 0.0, seconds) for p in (48, 55, 64)]
    return _render(_clip(seconds, {"keys": PIANO}, notes, drums=False), **_opts(sample_rate, num_samples, soundfont))


def mix(*, sample_rate: int, num_samples: int, soundfont: str = DEFAULT_SOUNDFONT) -> np.ndarray:
    """Drums, a bass line, a synth pad chord and a square-wave lead together."""
    seconds = num_samples / sample_rate
    notes = _groove(seconds)
    notes += [Note(0, p, 100, k * 2 * SIXTEENTH, 2 * SIXTEENTH * 0.9) for k, p in enumerate([36, 36, 43, 41])]
    notes += [Note(1, p, 75, 0.0, seconds) for p in (60, 64, 67)]
    notes += [Note(2, p, 95, k * SIXTEENTH, SIXTEENTH * 0.9) for k, p in enumerate([79, 84, 83, 79, 76, 79])]
    clip = _clip(seconds, {"bass": BASS, "synth": PAD, "lead": LEAD}, notes, drums=True)
    return _render(clip, **_opts(sample_rate, num_samples, soundfont))


def drums(*, sample_rate: int, num_samples: int, soundfont: str = DEFAULT_SOUNDFONT) -> np.ndarray:
    """A drum-kit fill: crash and kick, snare, open hi-hat and three toms."""
    notes = [Note(DRUM_CHANNEL, p, v, t, 0.1) for p, v, t in ((CRASH, 110, 0.0), (KICK, 115, 0.0), (SNARE, 110, 0.125))]
    notes += [Note(DRUM_CHANNEL, OPEN_HIHAT, 90, 0.25, 0.1), Note(DRUM_CHANNEL, KICK, 110, 0.375, 0.1)]
    notes += [Note(DRUM_CHANNEL, p, 105, 0.45 + 0.08 * k, 0.1) for k, p in enumerate((HIGH_TOM, MID_TOM, LOW_TOM))]
    clip = _clip(num_samples / sample_rate, {}, notes, drums=True)
    return _render(clip, **_opts(sample_rate, num_samples, soundfont))


def speech_over_drums(*, sample_rate: int, num_samples: int, soundfont: str = DEFAULT_SOUNDFONT) -> np.ndarray:
    """The speech over a drum groove, the groove 6 dB below the voice's peak."""
    voice = speech(sample_rate=sample_rate, num_samples=num_samples)
    groove = _render(
        _clip(num_samples / sample_rate, {}, _groove(num_samples / sample_rate), drums=True),
        **_opts(sample_rate, num_samples, soundfont),
    )
    return finish(voice + 0.5 * groove, sample_rate=sample_rate, num_samples=num_samples)


def _opts(sample_rate: int, num_samples: int, soundfont: str) -> dict:
    return {"sample_rate": sample_rate, "num_samples": num_samples, "soundfont": soundfont}


SOUNDS: dict[str, Callable[..., np.ndarray]] = {
    "speech": speech,
    "piano": piano,
    "mix": mix,
    "speech_drums": speech_over_drums,
    "drums": drums,
}
"""The experiment's sounds by name, in table order."""
SPEECH_SOUNDS: tuple[str, ...] = ("speech", "speech_drums")


def make_sound(name: str, *, sample_rate: int, num_samples: int) -> np.ndarray:
    """The sound ``name`` (one of :data:`SOUNDS`) as float32 (num_samples,), max-abs 1."""
    if name not in SOUNDS:
        raise ConfigError(f"unknown sound '{name}'; use one of {', '.join(SOUNDS)}")
    return SOUNDS[name](sample_rate=sample_rate, num_samples=num_samples)

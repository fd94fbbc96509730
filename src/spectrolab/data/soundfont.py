"""Render notes from General-MIDI soundfonts with FluidSynth (dry: reverb and chorus off).

A :class:`NoteRenderer` keeps one synthesiser with the soundfont loaded, so rendering many notes costs one
load; samples are loaded on first use (FluidSynth's dynamic sample loading), so opening a renderer costs
about 20 ms even for the 140 MB FluidR3_GM. Notes follow NSynth: ``hold`` seconds of note-on, then note-off
and the release until ``duration``. Samples come from FluidSynth's float output (no 16-bit rounding or
dither), so a renderer fed the same notes in the same order returns the same samples bit for bit. The first
few milliseconds of a note can depend on the notes the same renderer played before it (FluidSynth reuses
voice state), which is why dataset rendering opens one renderer per program.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from spectrolab.errors import ConfigError, DataError

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
DEFAULT_SOUNDFONT = "FluidR3_GM.sf2"
TEST_SOUNDFONT = "TimGM6mb.sf2"
SILENCE_PEAK = 1e-5
"""A waveform whose absolute peak is below this is silent (out-of-range notes render exact zeros)."""


def find_soundfont(name_or_path: str | os.PathLike[str] = DEFAULT_SOUNDFONT) -> Path:
    """Resolve a soundfont file by path or by name in the system soundfont folders."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for folder in SOUNDFONT_DIRS:
        if (folder / path.name).is_file():
            return folder / path.name
    raise DataError(
        f"soundfont '{name_or_path}' not found (looked in {', '.join(map(str, SOUNDFONT_DIRS))}); "
        "install fluid-soundfont-gm / timgm6mb-soundfont or pass a .sf2 path"
    )


@dataclass(frozen=True)
class NoteSpec:
    """One note to render: General-MIDI program (0-127), MIDI pitch and velocity."""

    program: int
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if not 0 <= self.program <= 127:
            raise ConfigError(f"program={self.program} is outside the General-MIDI range 0-127")
        if not 0 <= self.pitch <= 127:
            raise ConfigError(f"pitch={self.pitch} is outside the MIDI range 0-127")
        if not 1 <= self.velocity <= 127:
            raise ConfigError(f"velocity={self.velocity} is outside the MIDI range 1-127")


class SoundfontSynth:
    """A dry FluidSynth synthesiser (reverb and chorus off) with one soundfont loaded; a context manager."""

    def __init__(self, soundfont: str | os.PathLike[str], *, sample_rate: int = 16000, gain: float = 0.5) -> None:
        import fluidsynth  # imported here: it needs the system libfluidsynth

        self.soundfont = find_soundfont(soundfont)
        self.sample_rate = sample_rate
        self._synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=gain)
        for key, value in (("synth.reverb.active", 0), ("synth.chorus.active", 0), ("synth.dynamic-sample-loading", 1)):
            self._synth.setting(key, value)
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            raise DataError(f"{self.soundfont}: FluidSynth could not load this soundfont")

    def close(self) -> None:
        self._synth.delete()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoteRenderer(SoundfontSynth):
    """Renders mono float32 notes, taking FluidSynth's float output (no 16-bit rounding)."""

    def __init__(self, soundfont: str | os.PathLike[str], *, sample_rate: int = 16000) -> None:
        import fluidsynth

        super().__init__(soundfont, sample_rate=sample_rate, gain=0.5)
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        self._write_float.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
        self._write_float.restype = ctypes.c_int

    def render(self, note: NoteSpec, *, duration: float = 4.0, hold: float = 3.0) -> np.ndarray:
        """Render ``note``: note-on for ``hold`` s, then release until ``duration`` s. Returns (T,) float32."""
        if not 0 < hold <= duration:
            raise ConfigError(f"need 0 < hold <= duration, got hold={hold}, duration={duration}")
        synth = self._synth
        synth.system_reset()
        synth.program_select(0, self._sfid, 0, note.program)
        n_hold = round(hold * self.sample_rate)
        n_total = round(duration * self.sample_rate)
        stereo = np.zeros((n_total, 2), dtype=np.float32)
        synth.noteon(0, note.pitch, note.velocity)
        self._write(stereo[:n_hold])
        synth.noteoff(0, note.pitch)
        self._write(stereo[n_hold:])
        return stereo.mean(axis=1)

    def _write(self, out: np.ndarray) -> None:
        """Synthesise ``len(out)`` frames into the C-contiguous (N, 2) float32 array ``out``."""
        if len(out) and self._write_float(self._synth.synth, len(out), out.ctypes.data, 0, 2, out.ctypes.data, 1, 2):
            raise DataError(f"{self.soundfont}: FluidSynth failed to synthesise audio")


def is_silent(wave: np.ndarray, *, threshold: float = SILENCE_PEAK) -> bool:
    """Whether the absolute peak of ``wave`` is below ``threshold``."""
    return float(np.abs(wave).max(initial=0.0)) < threshold


def normalize_loudness(wave: np.ndarray, *, peak: float = 0.9, silence: float = SILENCE_PEAK) -> np.ndarray:
    """Scale to ``peak`` absolute maximum; near-silent input is returned unchanged."""
    if is_silent(wave, threshold=silence):
        return wave
    return (wave * (peak / float(np.abs(wave).max()))).astype(np.float32)

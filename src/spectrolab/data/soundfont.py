"""Render notes from General-MIDI soundfonts with FluidSynth (dry: reverb and chorus off).

A :class:`NoteRenderer` keeps one synthesiser with the soundfont loaded, so rendering many notes costs one
load. Notes follow NSynth: ``hold`` seconds of note-on, then note-off and the release until ``duration``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectrolab.errors import ConfigError, DataError

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
DEFAULT_SOUNDFONT = "FluidR3_GM.sf2"
TEST_SOUNDFONT = "TimGM6mb.sf2"


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


class NoteRenderer:
    """FluidSynth synthesiser with one soundfont loaded; renders mono float32 notes."""

    def __init__(self, soundfont: str | os.PathLike[str], *, sample_rate: int = 16000) -> None:
        import fluidsynth  # imported here: it needs the system libfluidsynth

        self.soundfont = find_soundfont(soundfont)
        self.sample_rate = sample_rate
        self._synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=0.5)
        for key in ("synth.reverb.active", "synth.chorus.active"):
            self._synth.setting(key, 0)
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            raise DataError(f"{self.soundfont}: FluidSynth could not load this soundfont")

    def render(self, note: NoteSpec, *, duration: float = 4.0, hold: float = 3.0) -> np.ndarray:
        """Render ``note``: note-on for ``hold`` s, then release until ``duration`` s. Returns (T,) float32."""
        if not 0 < hold <= duration:
            raise ConfigError(f"need 0 < hold <= duration, got hold={hold}, duration={duration}")
        synth = self._synth
        synth.system_reset()
        synth.program_select(0, self._sfid, 0, note.program)
        n_hold = round(hold * self.sample_rate)
        n_total = round(duration * self.sample_rate)
        synth.noteon(0, note.pitch, note.velocity)
        on = synth.get_samples(n_hold)
        synth.noteoff(0, note.pitch)
        off = synth.get_samples(n_total - n_hold)
        stereo = np.concatenate([on, off]).astype(np.float32).reshape(-1, 2) / 32768.0
        return stereo.mean(axis=1)

    def close(self) -> None:
        self._synth.delete()

    def __enter__(self) -> NoteRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def normalize_loudness(wave: np.ndarray, *, peak: float = 0.9, silence: float = 1e-5) -> np.ndarray:
    """Scale to ``peak`` absolute maximum; near-silent input is returned unchanged."""
    top = float(np.abs(wave).max(initial=0.0))
    return wave if top < silence else (wave * (peak / top)).astype(np.float32)

"""Sounds to start from: the bundled example note, and random notes from a folder given at start."""

from __future__ import annotations

import random
from functools import cached_property
from pathlib import Path

from spectrolab.errors import DataError

BUNDLED_EXAMPLE = Path(__file__).resolve().parent.parent / "assets" / "example_note.wav"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3")
MAX_LISTED = 200_000


class ExampleFolder:
    """Audio files under ``directory`` (an NSynth-format dataset or any folder of notes), listed once."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise DataError(f"{self.directory}: no such folder of example notes")

    @cached_property
    def files(self) -> list[Path]:
        found: list[Path] = []
        for path in self.directory.rglob("*"):
            if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
                found.append(path)
                if len(found) >= MAX_LISTED:
                    break
        return sorted(found)

    def check(self) -> int:
        """How many notes the folder holds; raises :class:`DataError` if none."""
        if not self.files:
            raise DataError(f"{self.directory}: holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
        return len(self.files)

    def pick(self, rng: random.Random | None = None) -> tuple[str, bytes]:
        """A random note: its file stem (never a path) and its bytes."""
        self.check()
        path = (rng or random).choice(self.files)
        return path.stem, path.read_bytes()

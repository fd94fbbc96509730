"""The NSynth format's names, split folders and example files; no torch, so the command line starts fast.

:mod:`spectrolab.data.nsynth` re-exports everything here alongside the dataset class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spectrolab.errors import ConfigError, DataError

NSYNTH_FAMILIES = (
    "bass",
    "brass",
    "flute",
    "guitar",
    "keyboard",
    "mallet",
    "organ",
    "reed",
    "string",
    "synth_lead",
    "vocal",
)
NSYNTH_SOURCES = ("acoustic", "electronic", "synthetic")
NSYNTH_QUALITIES = (
    "bright",
    "dark",
    "distortion",
    "fast_decay",
    "long_release",
    "multiphonic",
    "nonlinear_env",
    "percussive",
    "reverb",
    "tempo-synced",
)
NSYNTH_KEYS = frozenset(
    {
        "note",
        "note_str",
        "instrument",
        "instrument_str",
        "pitch",
        "velocity",
        "sample_rate",
        "qualities",
        "qualities_str",
        "instrument_family",
        "instrument_family_str",
        "instrument_source",
        "instrument_source_str",
    }
)
SPLITS = ("train", "valid", "test")
EXAMPLES_FILE = "examples.json"
# NSynth's pitch and velocity ranges, and the manifest `spectrolab data render` writes beside the splits.
NSYNTH_PITCHES = tuple(range(21, 109))
NSYNTH_VELOCITIES = (25, 50, 75, 100, 127)
MANIFEST_FILE = "render.json"


def split_dir(root: str | Path, split: str) -> Path:
    """``root/nsynth-<split>``; ``split`` must be one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ConfigError(f"split '{split}' is not one of {', '.join(SPLITS)}")
    return Path(root) / f"nsynth-{split}"


def read_examples(folder: str | Path) -> dict[str, dict[str, Any]]:
    """The ``examples.json`` of one split folder, checked to hold NSynth's keys."""
    path = Path(folder) / EXAMPLES_FILE
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected an NSynth split folder (nsynth-train/ with {EXAMPLES_FILE})")
    try:
        examples = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(examples, dict):
        raise DataError(f"{path}: expected an object mapping note_str to an example")
    for note_str, example in examples.items():
        missing = NSYNTH_KEYS - set(example) if isinstance(example, dict) else NSYNTH_KEYS
        if missing:
            raise DataError(f"{path}: example '{note_str}' lacks NSynth keys {sorted(missing)}")
    return examples

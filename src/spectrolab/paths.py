"""Where the shipped models live. No torch here: the command line reads these to build its help."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_CODEC_DIR = ASSETS / "codec_default"
# Built-in tagger names: "clips" (the default, 17 tags of multi-instrument clips) and "notes" (the 11 NSynth
# instrument families of single notes).
SHIPPED_TAGGERS: dict[str, Path] = {"clips": ASSETS / "tagger_default", "notes": ASSETS / "tagger_notes"}
DEFAULT_TAGGER = SHIPPED_TAGGERS["clips"]
SHIPPED_PRIORS: dict[str, Path] = {"nb": ASSETS / "prior_nb", "transformer": ASSETS / "prior_transformer"}
MODEL_CATALOG = ASSETS / "models.json"  # the registry's names, tasks and descriptions, for `spectrolab models`

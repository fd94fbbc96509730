"""Where the shipped models live. No torch here: the command line reads these to build its help."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_CODEC_DIR = ASSETS / "codec_default"
DEFAULT_TAGGER = ASSETS / "tagger_default"
SHIPPED_PRIORS: dict[str, Path] = {"nb": ASSETS / "prior_nb", "transformer": ASSETS / "prior_transformer"}
MODEL_CATALOG = ASSETS / "models.json"  # the registry's names, tasks and descriptions, for `spectrolab models`

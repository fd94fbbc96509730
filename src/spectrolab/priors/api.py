"""The shipped priors and loading a prior by short name or directory."""

from __future__ import annotations

import os
from pathlib import Path

from spectrolab.errors import ModelError
from spectrolab.models.registry import load_model_dir
from spectrolab.paths import ASSETS, SHIPPED_PRIORS  # noqa: F401  (ASSETS re-exported for scripts)
from spectrolab.priors.base import Prior


def load_prior(name_or_dir: str | os.PathLike[str] = "nb") -> Prior:
    """A shipped prior by short name (``nb``, ``transformer``) or a prior saved in a model directory (eval mode)."""
    directory = SHIPPED_PRIORS.get(str(name_or_dir), Path(name_or_dir))
    loaded = load_model_dir(directory)
    if not isinstance(loaded.model, Prior):
        raise ModelError(f"{directory}: holds a '{loaded.name}' model, not a code-grid prior")
    return loaded.model

"""The shipped priors and loading a prior by short name or directory."""

from __future__ import annotations

import os
from pathlib import Path

from spectrolab.codec.codegrid import CodeGrids
from spectrolab.errors import ModelError, did_you_mean
from spectrolab.models.registry import load_model_dir
from spectrolab.paths import ASSETS, SHIPPED_PRIORS  # noqa: F401  (ASSETS re-exported for scripts)
from spectrolab.priors.base import Prior


def load_prior(name_or_dir: str | os.PathLike[str] = "nb") -> Prior:
    """A shipped prior by short name (``nb``, ``transformer``) or a prior saved in a model directory (eval mode)."""
    directory = SHIPPED_PRIORS.get(str(name_or_dir), Path(name_or_dir))
    if not directory.exists() and os.sep not in str(name_or_dir):
        names = ", ".join(SHIPPED_PRIORS)
        hint = did_you_mean(str(name_or_dir), SHIPPED_PRIORS)
        raise ModelError(f"unknown prior '{name_or_dir}'{hint} (shipped: {names}; or give a prior model directory)")
    loaded = load_model_dir(directory)
    if not isinstance(loaded.model, Prior):
        raise ModelError(f"{directory}: holds a '{loaded.name}' model, not a code-grid prior")
    # The codec whose codes it was fitted on, as its config records it (see check_prior_codec).
    prior = loaded.model
    setattr(prior, "codec_name", str(loaded.metadata.get("codec_name", "")))  # noqa: B010
    setattr(prior, "codec_sha256", str(loaded.metadata.get("codec_sha256", "")))  # noqa: B010
    return prior


def check_prior_codec(prior: Prior, grids: CodeGrids, *, allow_mismatch: bool = False) -> None:
    """Refuse (:class:`ModelError`) to let ``prior`` edit codes of a codec other than the one it was fitted on
    (by the weights hash its config records), or warn with ``allow_mismatch``; unknown hashes pass."""
    name = getattr(prior, "codec_name", "") or "another codec"
    sha256 = getattr(prior, "codec_sha256", "")
    grids.check_codec(sha256, user=f"the codec this prior was fitted on ('{name}')", allow_mismatch=allow_mismatch)

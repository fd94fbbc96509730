"""The best checkpoint of a training run, kept true across resumes; checks on the checkpoint to resume from.

Lightning's :class:`~lightning.pytorch.callbacks.ModelCheckpoint` restores its idea of the best checkpoints
from the checkpoint a run resumes from. That copy can be stale: ``last.ckpt`` may have been written before
the validation that found a new best (the codec writes it every N steps, ahead of that step's validation),
so a resumed run can believe in a deleted file (and crash on it), miss the true best (and export a worse
one), and never delete best files it does not know about. :class:`BestCheckpoint` instead reads the best
files on disk when a run resumes, each one's own score recorded inside it, and keeps the ``save_top_k``
best of them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from spectrolab.errors import ConfigError


def check_resume(path: str | os.PathLike[str] | None) -> None:
    """Raise :class:`ConfigError` unless ``path`` (a checkpoint to resume from) is ``None`` or a file."""
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"--resume {path}: no such checkpoint (runs write OUT/checkpoints/last.ckpt)")


def saved_score(path: str | os.PathLike[str], monitor: str) -> float | None:
    """The ``monitor`` score a checkpoint was saved for by a monitoring ModelCheckpoint, or ``None``."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except (OSError, RuntimeError):  # removed meanwhile by another process of the run, or unreadable
        return None
    for state in checkpoint.get("callbacks", {}).values():
        if isinstance(state, dict) and state.get("monitor") == monitor and state.get("current_score") is not None:
            return float(state["current_score"])
    return None


class BestCheckpoint(ModelCheckpoint):
    """A monitoring :class:`ModelCheckpoint` whose best files are found on disk when a run resumes.

    ``filename`` must start with a fixed prefix (``"best-{step}"``): the files ``dirpath/<prefix>*.ckpt`` are
    this callback's. On resume their scores are read back, the ``save_top_k`` best are kept and the rest are
    deleted, so a run keeps, reports and exports its true best whatever ``last.ckpt`` remembered. With
    ``save_last``, ``last.ckpt`` is written after every validation and when training ends.
    """

    def __init__(self, *, monitor: str, filename: str, mode: str, save_top_k: int = 1, **kwargs: Any) -> None:
        prefix = filename.split("{", 1)[0]
        if not prefix or save_top_k < 1:
            raise ConfigError(f"BestCheckpoint needs a fixed filename prefix and save_top_k >= 1, got {filename!r}")
        super().__init__(monitor=monitor, filename=filename, mode=mode, save_top_k=save_top_k, **kwargs)
        self.prefix = prefix

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):  # where Lightning saves after epoch-end validation
            self._save_last_now(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_now(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._save_last_now(trainer)

    def _save_last_now(self, trainer: L.Trainer) -> None:
        """With ``save_last``, write ``last.ckpt`` now unless this step's checkpoint is written already: Lightning
        writes it at a validation only if the best improved, so a resume could restart epochs already run."""
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.adopt_saved()

    def adopt_saved(self) -> None:
        """Make the best files on disk, by their own recorded scores, this callback's best (top k kept)."""
        assert self.dirpath is not None and self.monitor is not None
        scores: dict[str, float] = {}
        for file in sorted(Path(self.dirpath).glob(f"{self.prefix}*.ckpt")):
            score = saved_score(file, self.monitor)
            if score is not None and not math.isnan(score):
                scores[str(file)] = score
        ranked = sorted(scores, key=scores.__getitem__, reverse=self.mode == "max")
        keep, drop = ranked[: self.save_top_k], ranked[self.save_top_k :]
        for path in drop:
            Path(path).unlink(missing_ok=True)
        self.best_k_models = {path: torch.tensor(scores[path]) for path in keep}
        worst = float("inf") if self.mode == "min" else float("-inf")
        self.best_model_path = keep[0] if keep else ""
        self.best_model_score = self.best_k_models[keep[0]] if keep else None
        self.kth_best_model_path = keep[-1] if len(keep) == self.save_top_k else ""
        self.kth_value = self.best_k_models[keep[-1]] if self.kth_best_model_path else torch.tensor(worst)

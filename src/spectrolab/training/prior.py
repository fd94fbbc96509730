"""Training the masked-code Transformer prior with Lightning on encoded grids.

Each training grid gets a random hidden set (see :func:`random_hidden`); the loss is the cross-entropy of the
hidden cells. Labels (pitch, family) are dropped at random so that the model also works
without them. The model itself is a plain registered ``nn.Module``; this file only wraps it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import lightning as L
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, Subset, TensorDataset

from spectrolab.codec import Codec
from spectrolab.data.nsynth import NSynthDataset
from spectrolab.errors import ConfigError
from spectrolab.priors.base import Conditioning
from spectrolab.priors.transformer import MaskedCodeTransformer
from spectrolab.training.checkpoints import BestCheckpoint, check_resume
from spectrolab.training.energy import EnergyRecorder
from spectrolab.training.runs import lightning_errors, make_trainer


def random_hidden(shape: tuple[int, int, int], *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bool (B, H, W) hidden sets (>= 1 cell each), a third of the grids each: a random rectangle (what the blur
    edit hides), a random subset whose fraction follows MaskGIT's cosine schedule (the unmasking steps), and a
    sparse subset of at most 15 % of the cells (single cells among known neighbours, as in Gibbs sweeps)."""
    batch, height, width = shape
    mode = torch.randint(0, 3, (batch,), generator=generator)
    rect = mode == 0
    u = torch.rand(batch, generator=generator)
    ratio = torch.where(mode == 1, torch.cos(math.pi / 2 * u), 0.15 * u).clamp_min(1.0 / (height * width))
    scattered = torch.rand(shape, generator=generator) < ratio.view(-1, 1, 1)
    r0 = (torch.rand(batch, generator=generator) * height).long()
    c0 = (torch.rand(batch, generator=generator) * width).long()
    r1 = r0 + 1 + (torch.rand(batch, generator=generator) * (height - r0)).long()
    c1 = c0 + 1 + (torch.rand(batch, generator=generator) * (width - c0)).long()
    rows = torch.arange(height).view(1, -1, 1)
    cols = torch.arange(width).view(1, 1, -1)
    box = (rows >= r0.view(-1, 1, 1)) & (rows < r1.view(-1, 1, 1)) & (cols >= c0.view(-1, 1, 1))
    box = box & (cols < c1.view(-1, 1, 1))
    hidden = torch.where(rect.view(-1, 1, 1), box, scattered)
    empty = ~hidden.view(batch, -1).any(dim=1)
    hidden[empty, r0[empty], c0[empty]] = True
    return hidden


def drop_labels(labels: torch.Tensor, probability: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label (B,) by -1 ("unknown") with ``probability``."""
    dropped = torch.rand(labels.shape, generator=generator) < probability
    return labels.masked_fill(dropped.to(labels.device), -1)


def masked_loss(model: MaskedCodeTransformer, grids: torch.Tensor, hidden: torch.Tensor, pitch, family):
    """Mean cross-entropy (nats) of the hidden cells of ``grids`` (B, H, W) given the visible ones."""
    features = model.features(grids.masked_fill(hidden, model.mask_token), pitch, family)
    return nn.functional.cross_entropy(model.logits(features[hidden]), grids[hidden])


class TransformerPriorModule(L.LightningModule):
    """Masked-code training of a :class:`MaskedCodeTransformer`; AdamW with linear warm-up (at most a tenth of
    the steps) then cosine decay over the budget: by steps, or by wall time (``max_minutes``) where that runs
    out first, so that a time-limited run still ends at the low learning rate."""

    def __init__(
        self,
        model: MaskedCodeTransformer,
        *,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        max_steps: int = 2000,
        max_minutes: float | None = None,
        label_dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.model = model
        self.lr, self.weight_decay = lr, weight_decay
        self.warmup_steps, self.max_steps = max(1, min(warmup_steps, max_steps // 10)), max_steps
        self.max_seconds = None if max_minutes is None else 60.0 * max_minutes
        self.label_dropout = label_dropout

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        grids, pitch, family = batch
        hidden = random_hidden(tuple(grids.shape)).to(grids.device)  # type: ignore[arg-type]
        pitch = drop_labels(pitch, self.label_dropout)
        family = drop_labels(family, self.label_dropout)
        loss = masked_loss(self.model, grids, hidden, pitch, family)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        grids, pitch, family = batch
        generator = torch.Generator().manual_seed(batch_idx)
        hidden = random_hidden(tuple(grids.shape), generator=generator).to(grids.device)  # type: ignore[arg-type]
        loss = masked_loss(self.model, grids, hidden, pitch, family)
        self.log("val_loss", loss, prog_bar=True, batch_size=grids.shape[0])
        return loss

    def configure_optimizers(self):
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2 and "embedding" not in n]
        rest = [p for n, p in self.model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n)]
        groups = [{"params": decay, "weight_decay": self.weight_decay}, {"params": rest, "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=self.lr, betas=(0.9, 0.98))

        started = time.monotonic()

        def schedule(step: int) -> float:
            if step < self.warmup_steps:
                return (step + 1) / self.warmup_steps
            progress = (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps)
            if self.max_seconds is not None:
                progress = max(progress, (time.monotonic() - started) / self.max_seconds)
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


@dataclass(frozen=True)
class EncodedGrids:
    """Grids of one level (N, H, W) with per-grid pitch and family (N,) (-1 where unknown)."""

    grids: torch.Tensor
    pitch: torch.Tensor
    family: torch.Tensor

    def __post_init__(self) -> None:
        n = self.grids.shape[0]
        if self.grids.dim() != 3 or self.pitch.shape != (n,) or self.family.shape != (n,):
            raise ConfigError(
                f"need grids (N, H, W) and pitch, family (N,), got {tuple(self.grids.shape)}, "
                f"{tuple(self.pitch.shape)}, {tuple(self.family.shape)}"
            )

    def tensors(self) -> dict[str, torch.Tensor]:
        """The three tensors by name, e.g. to save with safetensors."""
        return {"grids": self.grids, "pitch": self.pitch, "family": self.family}

    @property
    def conditioning(self) -> Conditioning:
        return Conditioning(pitch=self.pitch, family=self.family)

    def subset(self, index: torch.Tensor | slice) -> EncodedGrids:
        return EncodedGrids(self.grids[index], self.pitch[index], self.family[index])

    def loader(self, *, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
        """Batches in the order ``DataLoader(..., shuffle=shuffle)`` gives, each gathered by one indexing of
        the tensors rather than ``batch_size`` item look-ups and a collate (the look-ups bound a GPU's steps)."""
        generator = torch.Generator().manual_seed(seed)
        dataset = TensorDataset(self.grids.long(), self.pitch.long(), self.family.long())
        order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)


def encode_dataset(
    dataset: NSynthDataset,
    codec: Codec,
    *,
    level: int = 0,
    batch_size: int = 32,
    indices: Sequence[int] | None = None,
) -> EncodedGrids:
    """Encode the notes of an NSynth-format dataset (fields ``pitch`` and ``instrument_family``) with ``codec``:
    all of them, or those at ``indices``."""
    missing = {"pitch", "instrument_family"} - set(dataset.fields)
    if missing or dataset.representation is not None:
        raise ConfigError(f"need a waveform dataset with fields pitch and instrument_family (missing {missing})")
    source = dataset if indices is None else Subset(dataset, list(indices))
    loader = DataLoader(source, batch_size=batch_size, shuffle=False)
    count = len(source)
    pitch = torch.empty(count, dtype=torch.long)
    family = torch.empty(count, dtype=torch.long)
    grids: torch.Tensor | None = None
    start = 0
    with torch.inference_mode():
        for batch in loader:
            codes = codec.encode(batch["input"]).grids[level]
            # One tensor allocated up front: thousands of small per-batch tensors kept alive between the
            # analysis's large transient buffers fragmented the heap (RSS grew ~200 kB per note, 16 GB for
            # 82k notes, although the grids take 4 kB each).
            if grids is None:
                grids = torch.empty((count, *codes.shape[1:]), dtype=codes.dtype)
            stop = start + codes.shape[0]
            grids[start:stop] = codes
            pitch[start:stop] = batch["pitch"]
            family[start:stop] = batch["instrument_family"]
            start = stop
    if grids is None:
        raise ConfigError("no notes to encode")
    return EncodedGrids(grids, pitch, family)


@dataclass(frozen=True)
class TrainingBudget:
    """How long to train: at most ``max_steps`` optimiser steps and ``max_minutes`` of wall time (``None``: steps
    only, the budget a resumed run continues exactly); ``precision`` is Lightning's (``"bf16-mixed"`` pays on
    CPUs with bfloat16 units)."""

    max_steps: int = 2000
    max_minutes: float | None = 12.0
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    precision: str = "32-true"


def train_transformer_prior(
    model: MaskedCodeTransformer,
    train: EncodedGrids,
    valid: EncodedGrids,
    *,
    budget: TrainingBudget = TrainingBudget(),
    log_dir: str | None = None,
    checkpoint_dir: str | None = None,
    val_every: int = 200,
    resume: str | None = None,
    accelerator: str = "cpu",
) -> dict[str, float]:
    """Train ``model`` in place on ``train`` within ``budget``, validating every ``val_every`` steps; returns the
    final train and validation losses and the step count. ``accelerator`` is Lightning's (``"cpu"``,
    ``"gpu"``, ``"auto"``); the model comes back on the CPU either way.

    With ``checkpoint_dir``, ``last.ckpt`` is written at every validation (``resume`` continues from one) and the
    model ends with the weights of the best validation (``best_val_loss``, ``best_step``) rather than the last."""
    check_resume(resume)
    L.seed_everything(budget.seed, workers=True, verbose=False)
    module = TransformerPriorModule(
        model.train(), lr=budget.lr, max_steps=budget.max_steps, max_minutes=budget.max_minutes
    )
    callbacks: list[L.Callback] = [EnergyRecorder(log_dir)] if log_dir else []
    best = None
    if checkpoint_dir is not None:
        best = BestCheckpoint(
            dirpath=checkpoint_dir, filename="best-{step}", monitor="val_loss", mode="min", save_last=True
        )
        callbacks.append(best)
    trainer = make_trainer(
        max_steps=budget.max_steps,
        max_time=None if budget.max_minutes is None else timedelta(minutes=budget.max_minutes),
        accelerator=accelerator,
        devices=1,
        precision=budget.precision,
        logger=L.pytorch.loggers.CSVLogger(log_dir) if log_dir else False,
        callbacks=callbacks,
        enable_checkpointing=best is not None,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=min(val_every, budget.max_steps),
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
    )
    with lightning_errors():
        trainer.fit(
            module,
            train.loader(batch_size=budget.batch_size, shuffle=True, seed=budget.seed),
            valid.loader(batch_size=64, shuffle=False),
            ckpt_path=resume,
        )
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics["steps"] = float(trainer.global_step)
    if best is not None and best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(state["state_dict"])
        metrics["best_val_loss"] = float(best.best_model_score)  # type: ignore[arg-type]
        metrics["best_step"] = float(state["global_step"])
    model.cpu().eval()
    return metrics

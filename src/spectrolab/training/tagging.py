"""Lightning training of the registered taggers: instance-level on random chunks, song-level validation.

:class:`TaggerModule` wraps a plain tagger built by name (``create_model``); it trains with BCE on sigmoids
(multi-label) or cross-entropy (single-label) and validates on whole tracks -- chunk logits aggregated per
track -- with macro ROC-AUC / PR-AUC or accuracy. :class:`TaggingDataModule` serves a dataset in any layout
:func:`~spectrolab.data.tracks.load_tracks` knows. :func:`train_tagger` runs it all with checkpoints,
resuming, TensorBoard + CSV logs, early stopping and any ``devices``/``strategy`` (DDP included), then
exports the best weights as a model directory. With a feature cache (:class:`CachedTaggingDataModule`), a mel
tagger trains and validates on memory-mapped log-mels (:mod:`spectrolab.data.feature_cache`) through its
``forward_features``, so no epoch recomputes an STFT; the exported model still takes waveforms.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader
from torchmetrics.aggregation import CatMetric

from spectrolab.audio.representations import LogMel
from spectrolab.data.feature_cache import Augment, CachedFeatures, FeatureCache, augment_logmel, feature_cache
from spectrolab.data.tracks import (
    RandomChunks,
    SongBatch,
    SongChunks,
    TrackSet,
    collate_songs,
    dataset_recipe,
    load_tracks,
    spread_indices,
)
from spectrolab.errors import ConfigError, ModelError, OutputExistsError
from spectrolab.models import count_parameters, create_model, save_model_dir
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.paths import SHIPPED_TAGGERS
from spectrolab.tag.aggregate import Aggregation, aggregate_segments
from spectrolab.tag.metrics import accuracy, multilabel_scores
from spectrolab.tag.predict import Tagger, load_tagger, model_int, tagger_from_model
from spectrolab.training.checkpoints import BestCheckpoint, check_resume
from spectrolab.training.energy import EnergyRecorder, training_energy
from spectrolab.training.logs import csv_history_kept, run_loggers
from spectrolab.training.runs import (
    check_lr_schedule,
    check_steps,
    lightning_errors,
    make_trainer,
    scheduled,
    training_precision,
)
from spectrolab.training.warm_start import WarmStart


def monitored_metric(multilabel: bool) -> str:
    """The validation metric checkpoints and early stopping follow."""
    return "val/roc_auc" if multilabel else "val/accuracy"


class TaggerModule(L.LightningModule):
    """A registered tagger with its loss, optimiser and song-level validation metrics."""

    def __init__(
        self,
        model_name: str,
        *,
        labels: list[str],
        multilabel: bool,
        model_args: dict[str, Any] | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        aggregation: Aggregation = "mean",
        eval_batch_chunks: int = 64,
        inputs: Literal["wave", "logmel"] = "wave",
        class_weights: list[float] | None = None,
        lr_schedule: str = "constant",
        max_steps: int = -1,
        augment: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_lr_schedule(lr_schedule, max_steps)
        self.save_hyperparameters()
        self.model = create_model(model_name, num_classes=len(labels), **(model_args or {}))
        # Waveform batches are augmented here, on the front end's log-mel; cached log-mels come augmented.
        self.augment = None if augment is None or inputs == "logmel" else Augment(**augment)
        if self.augment is not None and not isinstance(self.model, MelTaggingModel):
            raise ConfigError(
                f"the log-mel augmentations (gain, shift, masks): {model_name} has no mel front end "
                f"({type(self.model).__name__} computes its own features from the waveform)"
            )
        self.multilabel = multilabel
        if multilabel:
            if class_weights is not None:
                raise ConfigError("class weights (--balance) are for single-label data")
            self.loss: torch.nn.Module = torch.nn.BCEWithLogitsLoss()
        else:
            weight = None if class_weights is None else torch.tensor(class_weights)
            self.loss = torch.nn.CrossEntropyLoss(weight=weight)
        self.val_scores, self.val_targets = CatMetric(), CatMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) waveform -> (B, C) logits; with ``inputs="logmel"``, cached log-mel (B, 1, n_mels, N) -> logits."""
        if self.hparams["inputs"] == "logmel":
            return cast(MelTaggingModel, self.model).forward_features(x)
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        inputs, target = batch
        loss = self.loss(self._training_logits(inputs), target)
        self.log("train/loss", loss, prog_bar=True, batch_size=inputs.shape[0])
        return loss

    def _training_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of a training batch; waveforms with augmentations go through the front end's log-mel, each
        item with its own random draw of them."""
        if self.augment is None:
            return self(inputs)
        model = cast(MelTaggingModel, self.model)
        spec = model.frontend.logmel(model.waveform(inputs))
        return model.forward_features(torch.stack([augment_logmel(item, self.augment) for item in spec]))

    def song_scores(self, batch: SongBatch) -> torch.Tensor:
        """Song-level scores (S, C) of the tracks in ``batch``, chunks run ``eval_batch_chunks`` at a time."""
        step = self.hparams["eval_batch_chunks"]
        logits = torch.cat([self(c) for c in torch.split(batch.chunks, step)])
        return aggregate_segments(logits, batch.counts, how=self.hparams["aggregation"], multilabel=self.multilabel)

    def validation_step(self, batch: SongBatch, batch_idx: int) -> None:
        self.val_scores.update(self.song_scores(batch))
        self.val_targets.update(batch.targets.float())

    def on_validation_epoch_end(self) -> None:
        scores, targets = self.val_scores.compute(), self.val_targets.compute()
        self.val_scores.reset()
        self.val_targets.reset()
        result = multilabel_scores(scores, targets) if self.multilabel else accuracy(scores, targets)
        for name, value in result.as_dict().items():
            self.log(f"val/{name}", value, prog_bar=True)
        self.log("val/tracks", float(scores.shape[0]))

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams["learning_rate"], weight_decay=self.hparams["weight_decay"]
        )
        return scheduled(optimizer, self.hparams["lr_schedule"], self.hparams["max_steps"])


class TaggingDataModule(L.LightningDataModule):
    """Train on random chunks of ``length`` samples; validate/test on the chunks of whole tracks (validation on
    ``val_tracks`` tracks spread over the split, or all)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        length: int,
        sample_rate: int,
        batch_size: int = 16,
        eval_batch_size: int = 4,
        num_workers: int = 0,
        num_chunks: int | None = None,
        target: str = "instrument_family",
        val_tracks: int | None = None,
    ) -> None:
        super().__init__()
        self.val_tracks = val_tracks
        self.root, self.length, self.sample_rate = Path(root), length, sample_rate
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.num_chunks, self.target = num_chunks, target

    def tracks(self, split: str) -> TrackSet:
        return load_tracks(self.root, split, target=self.target)

    def _songs(self, split: str) -> DataLoader[Any]:
        tracks = self.tracks(split).spread(self.val_tracks if split == "valid" else None)
        songs = SongChunks(tracks, length=self.length, sample_rate=self.sample_rate, num_chunks=self.num_chunks)
        return DataLoader(
            songs, batch_size=self.eval_batch_size, num_workers=self.num_workers, collate_fn=collate_songs
        )

    def train_dataloader(self) -> DataLoader[Any]:
        chunks = RandomChunks(self.tracks("train"), length=self.length, sample_rate=self.sample_rate)
        return DataLoader(
            chunks,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=len(chunks) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader[Any]:
        return self._songs("valid")

    def test_dataloader(self) -> DataLoader[Any]:
        return self._songs("test")


def collate_features(items: list[tuple[torch.Tensor, torch.Tensor]]) -> SongBatch:
    """Collate :class:`CachedFeatures` items into a :class:`SongBatch` of one chunk per track."""
    return SongBatch(
        chunks=torch.stack([c for c, _ in items]), counts=[1] * len(items), targets=torch.stack([t for _, t in items])
    )


class CachedTaggingDataModule(TaggingDataModule):
    """:class:`TaggingDataModule` on cached log-mels of the first ``length`` samples of each track (one item per
    track, for training and validation alike; whole tracks when they are no longer, as NSynth notes under a
    4 s model). ``prepare_data`` builds missing caches in ``cache_dir`` (reporting progress on stderr); a cache
    built otherwise is refused."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str],
        logmel: LogMel,
        augment: Augment,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.cache_dir, self.logmel, self.augment = Path(cache_dir), logmel, augment

    def cache(self, split: str) -> FeatureCache:
        """The whole split's cache (``val_tracks`` selects items from it, not a cache of its own)."""
        return feature_cache(
            self.cache_dir,
            self.tracks(split),
            split=split,
            logmel=self.logmel,
            length=self.length,
            progress=_progress(split),
        )

    def prepare_data(self) -> None:
        for split in ("train", "valid"):
            self.cache(split)

    def _songs(self, split: str) -> DataLoader[Any]:
        cache = self.cache(split)
        items = CachedFeatures(cache, indices=spread_indices(len(cache), self.val_tracks if split == "valid" else None))
        return DataLoader(
            items, batch_size=16 * self.eval_batch_size, num_workers=self.num_workers, collate_fn=collate_features
        )

    def train_dataloader(self) -> DataLoader[Any]:
        items = CachedFeatures(self.cache("train"), augment=self.augment)
        return DataLoader(
            items,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=len(items) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )


def _progress(split: str) -> Callable[[int, int, float], None]:
    """A feature-cache progress callback printing about every 10 % to stderr."""
    state = {"next": 0.0}

    def report(done: int, total: int, seconds: float) -> None:
        if done / total >= state["next"] or done == total:
            print(f"feature cache {split}: {done}/{total} tracks in {seconds:.0f} s", file=sys.stderr, flush=True)
            state["next"] = done / total + 0.1

    return report


@dataclass(frozen=True)
class TrainConfig:
    """Everything a tagger training run depends on; stored with the exported model."""

    model: str
    data: str
    out: str
    model_args: dict[str, Any] = field(default_factory=dict)
    target: str = "instrument_family"
    seed: int = 0
    batch_size: int = 16
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    weight_decay: float = 1e-4
    max_epochs: int = 100
    max_steps: int = -1
    max_minutes: float | None = None
    val_every_epochs: int = 1
    val_every_steps: int | None = None
    patience: int = 10
    num_chunks: int | None = None
    val_tracks: int | None = None
    aggregation: str = "mean"
    devices: int | str = 1
    strategy: str = "auto"
    accelerator: str = "cpu"
    precision: str = "32-true"
    num_workers: int = 0
    balance: bool = False
    feature_cache: str | None = None
    augment: Augment = field(default_factory=Augment)
    init_from: str | None = None
    resume: str | None = None
    progress: bool = True
    force: bool = False


@dataclass(frozen=True)
class TrainResult:
    """Where the run wrote its outputs, its best validation score (``metric``, e.g. ``val/roc_auc``; ``None``
    if no validation ran) and how long it took; ``global_rank`` is this process's rank (0 unless DDP launched
    several), and only rank 0 exports the model."""

    model_dir: Path
    best_checkpoint: Path
    log_dir: Path
    best_score: float | None
    train_seconds: float
    steps: int
    global_rank: int = 0
    metric: str = ""


def _trainer(config: TrainConfig, out: Path, monitor: str) -> L.Trainer:
    checkpoint = BestCheckpoint(
        dirpath=out / "checkpoints", monitor=monitor, mode="max", save_last=True, filename="best-{epoch}-{step}"
    )
    stop = EarlyStopping(monitor=monitor, mode="max", patience=config.patience, strict=False)
    return make_trainer(
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        precision=training_precision(config.precision, accelerator=config.accelerator),
        max_epochs=config.max_epochs,
        max_steps=config.max_steps,
        max_time=None if config.max_minutes is None else timedelta(minutes=config.max_minutes),
        check_val_every_n_epoch=None if config.val_every_steps else config.val_every_epochs,
        val_check_interval=config.val_every_steps,
        callbacks=[checkpoint, stop, EnergyRecorder(out)],
        logger=run_loggers(out),
        enable_progress_bar=config.progress,
        log_every_n_steps=5,
        num_sanity_val_steps=0,
        enable_model_summary=False,
    )


def _export(
    config: TrainConfig,
    module: TaggerModule,
    trainer: L.Trainer,
    seconds: float,
    *,
    warm_start: dict[str, Any] | None = None,
) -> Path:
    """Write the best weights as ``out/model`` with labels, recipe, seed, budget, scores and the warm start (the
    tagger the weights started from, if any) in the metadata."""
    ckpt = trainer.checkpoint_callback
    assert isinstance(ckpt, ModelCheckpoint)
    best = ckpt.best_model_path or ckpt.last_model_path
    if best:
        module = TaggerModule.load_from_checkpoint(best, map_location="cpu")
    metadata: dict[str, Any] = {
        "labels": module.hparams["labels"],
        "multilabel": module.multilabel,
        "aggregation": config.aggregation,
        "train": asdict(config),
        "data_recipe": dataset_recipe(config.data),
        "best_score": {monitored_metric(module.multilabel): float(ckpt.best_model_score or float("nan"))},
        "train_seconds": round(seconds, 1),
        "steps": trainer.global_step,
        "precision": str(trainer.precision),
        "parameters": count_parameters(module.model),
        "training_energy": training_energy(config.out),
    }
    if warm_start is not None:
        metadata["warm_start"] = warm_start
    return save_model_dir(module.model, Path(config.out) / "model", metadata=metadata, force=True)


# What a warm start copies from its source's metadata: the training that made the weights it starts from.
_SOURCE_BUDGET = ("steps", "train_seconds", "precision", "data_recipe", "training_energy", "warm_start")


def tagger_warm_start(source: str | os.PathLike[str]) -> WarmStart:
    """The warm start of ``source``: a built-in tagger name (``notes``, ``clips``) or a model directory; its
    classifier (``num_classes`` rows) may be for other labels."""
    directory = SHIPPED_TAGGERS.get(str(source), Path(source))
    return WarmStart.from_directory(directory, budget_keys=_SOURCE_BUDGET, head_arg="num_classes")


def balanced_weights(tracks: TrackSet) -> list[float]:
    """Cross-entropy class weights ``N / (K * count_c)`` of single-label tracks (K classes present), so that every
    class weighs as much in the loss as on a balanced split; 0 for absent classes, :class:`ConfigError` for
    multi-label data."""
    if tracks.multilabel:
        raise ConfigError("--balance is for single-label data (one class per track)")
    counts = torch.bincount(tracks.targets, minlength=len(tracks.labels)).double()
    present = int((counts > 0).sum())
    return torch.where(counts > 0, len(tracks) / (present * counts.clamp(min=1)), 0.0).tolist()


def _data_module(config: TrainConfig, probe: torch.nn.Module) -> TaggingDataModule:
    """Waveform chunks, or cached log-mels when ``config.feature_cache`` names a folder."""
    options: dict[str, Any] = {
        "length": model_int(probe, "input_length"),
        "sample_rate": model_int(probe, "sample_rate"),
        "batch_size": config.batch_size,
        "num_workers": config.num_workers,
        "num_chunks": config.num_chunks,
        "target": config.target,
        "val_tracks": config.val_tracks,
    }
    if config.feature_cache is None:
        return TaggingDataModule(config.data, **options)
    if not isinstance(probe, MelTaggingModel):
        raise ConfigError(
            f"--feature-cache: {config.model} has no mel front end ({type(probe).__name__} computes its own "
            "features from the waveform); train it without a feature cache"
        )
    if config.num_chunks is not None:
        raise ConfigError("--eval-chunks does not apply with --feature-cache (one cached item per track)")
    return CachedTaggingDataModule(
        config.data,
        cache_dir=config.feature_cache,
        logmel=probe.frontend.logmel,
        augment=config.augment,
        **options,
    )


def train_tagger(config: TrainConfig) -> TrainResult:
    """Train ``config.model`` on ``config.data``; writes checkpoints, logs and the exported model under ``out``."""
    out = Path(config.out)
    if (out / "checkpoints").exists() and config.resume is None and not config.force:
        raise OutputExistsError(f"{out}: holds a training run; pass --resume CKPT to continue or --force")
    check_resume(config.resume)
    check_steps(config.max_steps)
    L.seed_everything(config.seed, workers=True, verbose=False)
    warm = None if config.init_from is None else tagger_warm_start(config.init_from)
    model_args = config.model_args if warm is None else {**warm.model_args, **config.model_args}
    probe = create_model(config.model, num_classes=1, **model_args)
    data = _data_module(config, probe)
    train_tracks = data.tracks("train")
    module = TaggerModule(
        config.model,
        labels=train_tracks.labels,
        multilabel=train_tracks.multilabel,
        model_args=model_args,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        aggregation=config.aggregation,  # type: ignore[arg-type]
        inputs="wave" if config.feature_cache is None else "logmel",
        class_weights=balanced_weights(train_tracks) if config.balance else None,
        lr_schedule=config.lr_schedule,
        max_steps=config.max_steps,
        augment=None if config.augment == Augment() else asdict(config.augment),
    )
    warm_metadata = None
    if warm is not None:
        fresh = warm.load_into(module.model, name=config.model)
        warm_metadata = warm.record(fresh)
        print(f"initialised from {warm.directory} (all tensors but {', '.join(fresh) or 'none'})", file=sys.stderr)
    trainer = _trainer(config, out, monitored_metric(train_tracks.multilabel))
    start = time.perf_counter()
    with csv_history_kept(out, trainer, resuming=config.resume is not None), lightning_errors():
        trainer.fit(module, datamodule=data, ckpt_path=config.resume)
    seconds = time.perf_counter() - start
    ckpt = trainer.checkpoint_callback
    assert isinstance(ckpt, ModelCheckpoint)
    model_dir = (
        _export(config, module, trainer, seconds, warm_start=warm_metadata)
        if trainer.is_global_zero
        else Path(config.out) / "model"
    )
    return TrainResult(
        model_dir=model_dir,
        best_checkpoint=Path(ckpt.best_model_path or ckpt.last_model_path),
        log_dir=out / "logs",
        best_score=None if ckpt.best_model_score is None else float(ckpt.best_model_score),
        train_seconds=seconds,
        steps=trainer.global_step,
        global_rank=trainer.global_rank,
        metric=monitored_metric(train_tracks.multilabel),
    )


def tagger_from_checkpoint(path: str | os.PathLike[str]) -> Tagger:
    """A :class:`~spectrolab.tag.predict.Tagger` from a Lightning checkpoint written by :func:`train_tagger`."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint")
    try:
        module = TaggerModule.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError, ValueError) as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        reason = f"it holds a pickled {found.group(1)} object, not only weights" if found else "unreadable"
        raise ModelError(
            f"{path}: not a checkpoint of `spectrolab train tagger` ({reason}; spectrolab loads weights only and "
            "never unpickles objects)"
        ) from None
    metadata = {k: module.hparams[k] for k in ("labels", "multilabel", "aggregation")}
    return tagger_from_model(module.model, metadata)


def load_any_tagger(path: str | os.PathLike[str]) -> Tagger:
    """A tagger from a built-in name (:data:`~spectrolab.paths.SHIPPED_TAGGERS`: ``clips``, ``notes``), a model
    directory, a training run folder (its exported ``model/``) or a Lightning ``.ckpt``."""
    path = SHIPPED_TAGGERS.get(str(path), Path(path))
    if path.is_file():
        return tagger_from_checkpoint(path)
    if not (path / "config.json").is_file() and (path / "model" / "config.json").is_file():
        return load_tagger(path / "model")
    return load_tagger(path)

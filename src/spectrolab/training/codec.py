"""Lightning training of the codec presets on NSynth-format notes.

:class:`CodecModule` wraps a registered codec (``create_model``) with its losses: reconstruction of the
normalised mel-IF spectrogram (log-mel and IF channels), the VQ commitment loss, and a multi-resolution STFT
loss on the audio decoded from the reconstruction. It trains on random time crops of notes (the network is
convolutional, so crops cost less than whole notes and see more variety), validates on whole held-out notes
(mel log-spectral distance of decoded audio) and logs codebook usage every step. :func:`train_codec` runs
it with checkpoints, resuming, TensorBoard + CSV logs and a wall-clock budget, then exports the best weights
as a model directory whose metadata records the data recipe, seed and budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, Timer
from torch.utils.data import DataLoader, Dataset, TensorDataset

from spectrolab import metrics
from spectrolab.codec.vqvae import Codec
from spectrolab.data.nsynth import NSynthDataset
from spectrolab.errors import ConfigError, DataError, OutputExistsError
from spectrolab.losses import perceptual_loss
from spectrolab.models import count_parameters, create_model, save_model_dir
from spectrolab.training.callbacks import CodecMediaLogger
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


@dataclass
class CodecLosses:
    """Scalar losses of one batch; ``total`` is what the optimiser sees."""

    total: torch.Tensor
    log_mel: torch.Tensor
    inst_freq: torch.Tensor
    commitment: torch.Tensor
    audio: torch.Tensor
    perceptual: torch.Tensor
    level: torch.Tensor


def frame_level_error(
    codec: Codec, reconstruction: torch.Tensor, target: torch.Tensor, *, num_samples: int
) -> torch.Tensor:
    """Mean squared difference of the frames' levels, on the normalised scale, over the frames of
    ``num_samples`` samples: a frame's level is the log of its total mel power (log-sum-exp over the mel bins
    of the log-mel as :meth:`Codec.synthesise` reads it, clamped to its range). Normalised spectrograms
    (B, 2, n_mels, N') -> scalar.

    A per-bin log-mel loss leaves this loose where a frame is quiet: many bins each a little too loud sum to a
    frame several dB too loud, which is how decays and releases come out."""
    rec, ref = (codec.denormalise(s, num_samples=num_samples)[:, 0] for s in (reconstruction, target))
    return torch.nn.functional.mse_loss(torch.logsumexp(rec, dim=1), torch.logsumexp(ref, dim=1)) / codec.norm_scale**2


def codec_losses(
    codec: Codec,
    wave: torch.Tensor,
    *,
    if_weight: float = 1.0,
    commitment_weight: float = 0.25,
    audio_weight: float = 0.1,
    perceptual_weight: float = 0.0,
    level_weight: float = 0.0,
    perceptual: torch.nn.Module | None = None,
) -> tuple[CodecLosses, list[Any]]:
    """Losses of ``codec`` on waveforms (B, T), and its quantiser outputs (bottom level first).

    ``total = mse(log-mel) + if_weight * mse(IF) + commitment_weight * commitment + audio_weight * mrstft
    + perceptual_weight * perceptual(decoded, wave) + level_weight * frame_level_error``, the spectrogram terms
    on the normalised scale, the audio terms between the decoded reconstruction and the input audio (``perceptual``: a
    :func:`spectrolab.losses.perceptual_loss`, needed when ``perceptual_weight > 0``).
    """
    with torch.no_grad():
        target = codec.analyse(wave)
    out = codec(target)
    log_mel = torch.nn.functional.mse_loss(out.reconstruction[:, :1], target[:, :1])
    inst_freq = torch.nn.functional.mse_loss(out.reconstruction[:, 1:], target[:, 1:])
    commitment = sum((q.commitment_loss for q in out.quantizers), torch.zeros(()))
    audio, heard = torch.zeros(()), torch.zeros(())
    if perceptual_weight > 0 and perceptual is None:
        raise ConfigError("perceptual_weight > 0 needs a perceptual loss module (spectrolab.losses.perceptual_loss)")
    if audio_weight > 0 or perceptual_weight > 0:
        decoded = codec.synthesise(out.reconstruction, num_samples=wave.shape[-1])
        if audio_weight > 0:
            audio = metrics.multi_resolution_stft_distance(wave, decoded).mean()
        if perceptual is not None and perceptual_weight > 0:
            heard = perceptual(decoded, wave)
    total = log_mel + if_weight * inst_freq + commitment_weight * commitment + audio_weight * audio
    # Always logged; without a weight it stays out of the graph, so backward does no work for it.
    reconstruction = out.reconstruction if level_weight > 0 else out.reconstruction.detach()
    level = frame_level_error(codec, reconstruction, target, num_samples=wave.shape[-1])
    total = total + perceptual_weight * heard + level_weight * level
    return CodecLosses(total, log_mel, inst_freq, commitment, audio, heard, level), out.quantizers


class CodecModule(L.LightningModule):
    """A registered codec with its losses, optimiser and whole-note validation."""

    def __init__(
        self,
        model_name: str,
        *,
        model_args: dict[str, Any] | None = None,
        learning_rate: float = 1e-3,
        lr_schedule: str = "constant",
        max_steps: int = -1,
        if_weight: float = 1.0,
        commitment_weight: float = 0.25,
        audio_weight: float = 0.1,
        perceptual_weight: float = 0.0,
        perceptual_preset: str = "ours",
        level_weight: float = 0.0,
    ) -> None:
        super().__init__()
        check_lr_schedule(lr_schedule, max_steps)
        self.save_hyperparameters()
        model = create_model(model_name, **(model_args or {}))
        if not isinstance(model, Codec):
            raise ConfigError(f"'{model_name}' is not a codec")
        self.model = model
        self.weights = {"if_weight": if_weight, "commitment_weight": commitment_weight, "audio_weight": audio_weight}
        self.weights |= {"perceptual_weight": perceptual_weight, "level_weight": level_weight}
        # Built from its preset (buffers not saved): checkpoints stay loadable whatever the loss.
        self.perceptual = (
            perceptual_loss(perceptual_preset, sample_rate=model.sample_rate) if perceptual_weight else None
        )

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        losses, quantizers = codec_losses(self.model, batch, perceptual=self.perceptual, **self.weights)
        for item in fields(losses):
            self.log(f"train/{item.name}", getattr(losses, item.name), prog_bar=item.name == "total")
        for level, q in enumerate(quantizers):
            self.log(f"codebook/perplexity_l{level}", q.perplexity)
            self.log(f"codebook/dead_codes_l{level}", float(q.dead_codes), prog_bar=level == 0)
        return losses.total

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        grids = self.model.encode(batch)
        decoded = self.model.decode(grids)
        sr = self.model.sample_rate
        self.log("val/mel_lsd", metrics.mel_log_spectral_distance(batch, decoded, sample_rate=sr).mean(), prog_bar=True)
        self.log("val/spectral_convergence", metrics.spectral_convergence(batch, decoded).mean())
        # The level error of the notes' last quarter (their release): where a too-loud decay shows.
        release = metrics.level_difference_db(batch, decoded, start=batch.shape[-1] * 3 // 4)
        self.log("val/release_level_db", release.nanmean())

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams["learning_rate"])
        return scheduled(optimizer, self.hparams["lr_schedule"], self.hparams["max_steps"])


class RandomCrops(Dataset[torch.Tensor]):
    """Random float32 crops of ``num_samples`` samples from notes (N, T); with ``onset_probability`` a crop
    starts at 0.

    Notes start with their attack, which a uniform crop would rarely include. The notes may be stored in half
    precision (it halves the memory of large note sets; float16 keeps 11 significant bits at every level).
    """

    def __init__(self, waves: torch.Tensor, *, num_samples: int, onset_probability: float = 0.3) -> None:
        if num_samples > waves.shape[-1]:
            raise ConfigError(f"crop of {num_samples} samples is longer than the notes ({waves.shape[-1]})")
        self.waves, self.num_samples, self.onset_probability = waves, num_samples, onset_probability

    def __len__(self) -> int:
        return self.waves.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        span = self.waves.shape[-1] - self.num_samples
        start = 0 if torch.rand(()) < self.onset_probability else int(torch.randint(span + 1, ()))
        return self.waves[index, start : start + self.num_samples].float()


def _stack_first(items: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
    return torch.stack([item[0] for item in items])


def crop_samples(codec: Codec, seconds: float) -> int:
    """Samples of a crop of about ``seconds`` whose frames fill whole top-level cells (no padding)."""
    hop = codec.representation.config.hop_length
    step = codec.level_strides()[-1][1]
    cells = max(1, round(seconds * codec.sample_rate / hop / step))
    return (cells * step - 1) * hop


def pitch_covering(pitches: Sequence[int], count: int, *, seed: int) -> list[int]:
    """Indices of ``count`` items dealt round-robin over the distinct pitches (shuffled within each pitch).

    Every pitch present gets an item before any pitch gets a second one, so training covers every pitch.
    """
    generator = torch.Generator().manual_seed(seed)
    by_pitch: dict[int, list[int]] = {}
    for index in torch.randperm(len(pitches), generator=generator).tolist():
        by_pitch.setdefault(int(pitches[index]), []).append(index)
    queues = [by_pitch[p] for p in sorted(by_pitch)]
    chosen: list[int] = []
    for round_ in range(max(map(len, queues), default=0)):
        chosen += [q[round_] for q in queues if round_ < len(q)]
    return sorted(chosen[:count])


def load_notes(
    root: str | Path, split: str, *, count: int, sample_rate: int, seed: int, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, dict]:
    """Waveforms (count', T) of up to ``count`` notes of ``split`` covering every pitch, and their recipe."""
    dataset = NSynthDataset(root, split, fields=("pitch", "instrument"), sample_rate=sample_rate)
    if len(dataset) == 0:
        raise DataError(f"{root}: split '{split}' holds no notes")
    pitches = [example["pitch"] for example in dataset.examples]
    indices = pitch_covering(pitches, count, seed=seed)
    waves = torch.stack([dataset[i]["input"].to(dtype) for i in indices])
    recipe = {
        "root": str(root),
        "split": split,
        "notes": len(indices),
        "programs": sorted({dataset.examples[i]["instrument"] for i in indices}),
        "pitches": sorted({pitches[i] for i in indices}),
    }
    return waves, recipe


def load_libraries(
    roots: Sequence[str], split: str, *, count: int, sample_rate: int, seed: int, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, list[dict]]:
    """Up to ``count`` notes of ``split`` shared evenly among the datasets ``roots`` (one per sample library),
    each share covering every pitch; their waveforms stacked (N, T) and one recipe per dataset."""
    shares = [count // len(roots) + (i < count % len(roots)) for i in range(len(roots))]
    loaded = [
        load_notes(root, split, count=share, sample_rate=sample_rate, seed=seed, dtype=dtype)
        for root, share in zip(roots, shares, strict=True)
    ]
    return torch.cat([waves for waves, _ in loaded]), [recipe for _, recipe in loaded]


EXPORTS = ("best", "last")


@dataclass
class CodecTrainConfig:
    """Everything :func:`train_codec` needs; saved with the exported model.

    ``data`` lists one NSynth-format folder per sample library; ``train_notes`` and ``val_notes`` are shared
    evenly among them. ``lr_schedule="cosine"`` decays the learning rate over ``max_steps``. ``init_from``
    names an exported codec of the same preset whose weights start the run: its builder arguments are the
    defaults of ``model_args``. ``export`` chooses the weights exported: ``"best"`` validation mel LSD, or
    ``"last"`` (the final step's, validated once more; with a cosine schedule the end is where it settles).
    """

    data: list[str]
    out: str
    preset: str = "vqvae_default"
    model_args: dict[str, Any] = field(default_factory=dict)
    train_notes: int = 2000
    val_notes: int = 16
    batch_size: int = 8
    crop_seconds: float = 1.0
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    if_weight: float = 1.0
    commitment_weight: float = 0.25
    audio_weight: float = 0.0
    perceptual_weight: float = 0.0
    perceptual_preset: str = "ours"
    level_weight: float = 0.0
    init_from: str | None = None
    export: str = "best"
    max_minutes: float | None = 70.0
    max_steps: int = -1
    val_every: int = 300
    threads: int = 1
    precision: str = "32-true"
    seed: int = 0
    resume: str | None = None
    force: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.data, str | Path):  # one dataset given alone
            self.data = [str(self.data)]


# What a warm start copies from its source's metadata: the training that made the weights it starts from.
_SOURCE_BUDGET = ("budget", "data", "train_config", "parameters", "best_val_mel_lsd", "training_energy", "warm_start")


def codec_warm_start(source: str | Path) -> WarmStart:
    """The warm start of the codec exported in ``source`` (a model directory); every tensor must match."""
    return WarmStart.from_directory(source, budget_keys=_SOURCE_BUDGET)


@dataclass
class CodecTrainResult:
    """Where the exported model went and how training went."""

    model_dir: Path
    steps: int
    seconds: float
    best_mel_lsd: float | None


def _trainer(config: CodecTrainConfig, out: Path, best: ModelCheckpoint, *, precision: str) -> L.Trainer:
    # ``last.ckpt`` (for --resume) is rewritten every validation, whether or not the score improved.
    latest = ModelCheckpoint(
        dirpath=out / "checkpoints", filename="last", every_n_train_steps=config.val_every, enable_version_counter=False
    )
    return make_trainer(
        accelerator="cpu",
        precision=precision,
        max_time=None if config.max_minutes is None else timedelta(minutes=config.max_minutes),
        max_steps=config.max_steps,
        max_epochs=-1,
        gradient_clip_val=1.0,
        val_check_interval=config.val_every,
        check_val_every_n_epoch=None,
        callbacks=[best, latest, CodecMediaLogger(), EnergyRecorder(out)],
        logger=run_loggers(out),
        log_every_n_steps=10,
        default_root_dir=out,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def _train_seconds(trainer: L.Trainer) -> float | None:
    """Training time of the run and of the runs it resumed (Lightning's timer), when a budget was set."""
    timers = [c for c in trainer.callbacks if isinstance(c, Timer)]  # type: ignore[attr-defined]
    return round(timers[0].time_elapsed("train"), 1) if timers else None


def train_codec(config: CodecTrainConfig) -> CodecTrainResult:
    """Train ``config.preset`` on ``config.data``; export the best weights to ``config.out/model``."""
    out = Path(config.out)
    model_dir = out / "model"
    if (model_dir / "config.json").exists() and not config.force and config.resume is None:
        raise OutputExistsError(f"{model_dir}: holds a trained model already; pass --force to train again")
    check_resume(config.resume)
    check_steps(config.max_steps)
    if config.export not in EXPORTS:
        raise ConfigError(f"export must be one of {', '.join(EXPORTS)}, got {config.export!r}")
    torch.set_num_threads(config.threads)
    L.seed_everything(config.seed, workers=True, verbose=False)
    warm = None if config.init_from is None else codec_warm_start(config.init_from)
    module = CodecModule(
        config.preset,
        model_args=config.model_args if warm is None else {**warm.model_args, **config.model_args},
        learning_rate=config.learning_rate,
        lr_schedule=config.lr_schedule,
        max_steps=config.max_steps,
        if_weight=config.if_weight,
        commitment_weight=config.commitment_weight,
        audio_weight=config.audio_weight,
        perceptual_weight=config.perceptual_weight,
        perceptual_preset=config.perceptual_preset,
        level_weight=config.level_weight,
    )
    codec = module.model
    warm_metadata = None if warm is None else warm.record(warm.load_into(codec, name=config.preset))
    train_waves, train_recipe = load_libraries(
        config.data,
        "train",
        count=config.train_notes,
        sample_rate=codec.sample_rate,
        seed=config.seed,
        dtype=torch.float16,
    )
    val_waves, val_recipe = load_libraries(
        config.data, "valid", count=config.val_notes, sample_rate=codec.sample_rate, seed=config.seed
    )
    crops = RandomCrops(train_waves, num_samples=crop_samples(codec, config.crop_seconds))
    train_loader = DataLoader(crops, batch_size=config.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(TensorDataset(val_waves), batch_size=config.val_notes, collate_fn=_stack_first)
    checkpoint = BestCheckpoint(dirpath=out / "checkpoints", filename="best-{step}", monitor="val/mel_lsd", mode="min")
    precision = training_precision(config.precision)
    trainer = _trainer(config, out, checkpoint, precision=precision)
    start = time.perf_counter()
    exported_val: dict[str, float] = {}
    with csv_history_kept(out, trainer, resuming=config.resume is not None), lightning_errors():
        trainer.fit(module, train_loader, val_loader, ckpt_path=config.resume)
        seconds = time.perf_counter() - start
        if config.export == "last":  # validated again (a resumed finished run has no fresh scores), logged
            exported_val = {k: float(v) for k, v in trainer.validate(module, val_loader, verbose=False)[0].items()}
    best_step = trainer.global_step
    if config.export == "best" and checkpoint.best_model_path:
        best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(best["state_dict"])
        best_step = int(best["global_step"])
    best_score = checkpoint.best_model_score
    metadata = {
        "train_config": asdict(config),
        "data": {"train": train_recipe, "valid": val_recipe},
        "budget": {
            "steps": trainer.global_step,
            "exported_step": best_step,
            "seconds": round(seconds, 1),
            "train_seconds_total": _train_seconds(trainer),
            "threads": config.threads,
            "precision": precision,
        },
        "parameters": count_parameters(codec),
        "best_val_mel_lsd": None if best_score is None else float(best_score),
        "training_energy": training_energy(out),
    }
    if exported_val:
        metadata["exported_val"] = exported_val
    if warm_metadata is not None:
        metadata["warm_start"] = warm_metadata
    save_model_dir(codec, model_dir, metadata=metadata, force=True)
    best_lsd = None if best_score is None or math.isnan(float(best_score)) else float(best_score)
    return CodecTrainResult(model_dir, trainer.global_step, seconds, best_lsd)

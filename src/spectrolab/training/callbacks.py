"""Small Lightning callbacks shared by the training modules."""

from __future__ import annotations

import lightning as L
import matplotlib
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger

from spectrolab.codec.vqvae import Codec

matplotlib.use("Agg")
from matplotlib import pyplot as plt


def spectrogram_figure(target: torch.Tensor, estimate: torch.Tensor, *, title: str = "") -> plt.Figure:
    """Side-by-side images of two (F, N) spectrograms (low frequencies at the bottom), on one colour scale."""
    low, high = float(target.min()), float(target.max())
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    for ax, spec, name in zip(axes, (target, estimate), ("input", "decoded"), strict=True):
        ax.imshow(spec.cpu().numpy(), origin="lower", aspect="auto", vmin=low, vmax=high, cmap="magma")
        ax.set_title(f"{title} {name}".strip())
    fig.tight_layout()
    return fig


class CodecMediaLogger(Callback):
    """After each validation, log the first validation note's log-mel (input vs decoded) and both sounds.

    Writes to the trainer's TensorBoard logger; does nothing without one.
    """

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logger = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        loaders = trainer.val_dataloaders
        if logger is None or loaders is None or trainer.sanity_checking:
            return
        wave = next(iter(loaders))[:1].to(pl_module.device)
        codec: Codec = pl_module.model  # type: ignore[assignment]
        with torch.inference_mode():
            decoded = codec.decode(codec.encode(wave))
            target, estimate = codec.representation(wave)[0, 0], codec.representation(decoded)[0, 0]
        step, sr = trainer.global_step, codec.sample_rate
        figure = spectrogram_figure(target, estimate, title=f"step {step}")
        logger.experiment.add_figure("val/log_mel", figure, step)
        plt.close(figure)
        peak = max(float(decoded.abs().max()), 1.0)
        logger.experiment.add_audio("val/input", wave[0].cpu()[None], step, sample_rate=sr)
        logger.experiment.add_audio("val/decoded", (decoded[0].cpu() / peak)[None], step, sample_rate=sr)

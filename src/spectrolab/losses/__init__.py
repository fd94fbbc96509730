"""Losses on waveforms: the perceptual (Bark filterbank, threshold, masking) loss and the original recipe."""

from spectrolab.losses.perceptual import (
    PRESETS,
    OriginalPerceptualLoss,
    PerceptualLoss,
    PerceptualLossConfig,
    perceptual_loss,
)

__all__ = ["PRESETS", "OriginalPerceptualLoss", "PerceptualLoss", "PerceptualLossConfig", "perceptual_loss"]

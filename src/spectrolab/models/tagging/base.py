"""The interface every tagger shares: raw waveform (B, T) in, one logit per class (B, num_classes) out.

Taggers on a :class:`~spectrolab.models.tagging.frontend.MelFrontEnd` derive from :class:`MelTaggingModel`,
which splits ``forward`` at the log-mel: training can then run on cached log-mel features
(:mod:`spectrolab.data.feature_cache`) with the very weights that inference runs on waveforms.
"""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.audio.representations import as_batch
from spectrolab.errors import ConfigError
from spectrolab.models.tagging.frontend import MelFrontEnd


class TaggingModel(nn.Module):
    """Base class of the taggers: each includes its own front end, so all share one call signature.

    ``sample_rate`` is the rate the waveform must have, ``input_length`` the chunk length (samples) the model
    was published with, ``num_classes`` the number of logits. Outputs are logits (no sigmoid): train with
    ``BCEWithLogitsLoss`` and apply ``torch.sigmoid`` for probabilities.
    """

    fixed_length: bool = False
    min_input_length: int = 1

    def __init__(self, *, sample_rate: int, input_length: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        if input_length < 1 or sample_rate < 1:
            raise ConfigError(f"need positive sample_rate and input_length, got {sample_rate}, {input_length}")
        self.sample_rate = sample_rate
        self.input_length = input_length
        self.num_classes = num_classes

    def waveform(self, wave: torch.Tensor) -> torch.Tensor:
        """(T,), (B, T) or (B, 1, T) -> (B, T); models whose head flattens a fixed grid check the length."""
        wave = as_batch(wave)
        if wave.shape[-1] < self.min_input_length:
            raise ConfigError(
                f"{type(self).__name__} needs at least {self.min_input_length} samples "
                f"({self.min_input_length / self.sample_rate:.3f} s) for its poolings, got {wave.shape[-1]}"
            )
        if self.fixed_length and wave.shape[-1] != self.input_length:
            raise ConfigError(
                f"{type(self).__name__} takes chunks of exactly {self.input_length} samples "
                f"({self.input_length / self.sample_rate:.3f} s at {self.sample_rate} Hz), got {wave.shape[-1]}"
            )
        return wave


class MelTaggingModel(TaggingModel):
    """A tagger whose front end is a :class:`MelFrontEnd`: ``forward(wave)`` is
    ``forward_features(frontend.logmel(wave))``, the log-mel in dB before the front end's batch norm."""

    frontend: MelFrontEnd

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform (B, T) -> logits (B, num_classes)."""
        return self.forward_features(self.frontend.logmel(self.waveform(wave)))

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        """Log-mel in dB (B, 1, n_mels, N), as ``frontend.logmel`` computes it -> logits (B, num_classes)."""
        raise NotImplementedError

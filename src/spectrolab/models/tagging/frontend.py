"""The tagging literature's mel front end: log-mel power spectrogram in dB, then ``BatchNorm2d(1)``."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from spectrolab.audio.representations import LogMel, LogMelConfig
from spectrolab.errors import ConfigError

MelStyle = Literal["librosa", "torchaudio"]
"""Filterbank and padding of the front end: librosa's (Slaney scale, area-normalised filters, zero padding) or
torchaudio's ``MelSpectrogram`` (HTK scale, unnormalised filters, reflect padding)."""
MEL_STYLES: dict[str, dict[str, Any]] = {
    "librosa": {"htk": False, "norm": "slaney", "pad_mode": "constant"},
    "torchaudio": {"htk": True, "norm": None, "pad_mode": "reflect"},
}


class MelFrontEnd(nn.Module):
    """Waveform (B, T) -> batch-normalised log-mel (B, 1, n_mels, N) with N = 1 + T // hop_length.

    Defaults are the CNN zoo's (Won et al. 2020): 16 kHz, n_fft 512, hop 256, f_max 8 kHz, power mel in dB.
    ``mel_style="librosa"`` (the default, which every shipped spectrolab tagger was trained with) uses librosa's
    filterbank: Slaney scale, area-normalised filters, zero padding. The reference code used torchaudio's
    ``MelSpectrogram``: ``mel_style="torchaudio"`` (HTK scale, unnormalised filters, reflect padding) gives
    exactly that, for porting reference checkpoints. Every mel tagger's builder takes ``mel_style``.
    """

    def __init__(
        self,
        *,
        n_mels: int,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__()
        if mel_style not in MEL_STYLES:
            raise ConfigError(f"mel_style must be one of {', '.join(MEL_STYLES)}, got {mel_style!r}")
        config = LogMelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            **MEL_STYLES[mel_style],
        )
        self.logmel = LogMel(config)
        self.bn = nn.BatchNorm2d(1)

    @property
    def n_mels(self) -> int:
        return self.logmel.config.n_mels

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` samples."""
        return self.logmel.num_frames(num_samples)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.bn(self.logmel(wave))

    def standardize(self, logmel: torch.Tensor) -> torch.Tensor:
        """The batch norm without its scale and shift, on ``logmel`` (B, 1, n_mels, N) from ``self.logmel``.

        Updates the running statistics exactly as ``forward`` does in training mode. With
        :func:`conv_of_affine` this lets a model skip the costly input gradient of its first convolution.
        """
        bn = self.bn
        momentum = bn.momentum
        if self.training and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative moving average, as nn.BatchNorm2d does
                momentum = 1.0 / float(bn.num_batches_tracked)
        use_batch = self.training or not bn.track_running_stats
        return F.batch_norm(logmel, bn.running_mean, bn.running_var, None, None, use_batch, momentum or 0.0, bn.eps)


def conv_of_affine(conv: nn.Conv2d, standard: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``conv(bn.weight * standard + bn.bias)`` for a 1-channel ``standard`` input (B, 1, F, N), computed as
    ``bn.weight * conv'(standard) + bn.bias * conv'(ones) + conv.bias`` (``conv'`` without bias).

    Equal by linearity (zero padding included, since ``conv'(ones)`` sees the same padding), but the gradients
    of the two batch-norm scalars no longer need the convolution's input gradient, which for a 1-channel
    input with tall kernels costs about ten times the forward pass on a CPU.
    """
    if standard.shape[1] != 1 or conv.groups != 1:
        raise ValueError(f"conv_of_affine needs a 1-channel input, got {standard.shape[1]} channels")
    ones = torch.ones_like(standard[:1])
    out = bn.weight.view(1, 1, 1, 1) * conv._conv_forward(standard, conv.weight, None)
    out = out + bn.bias.view(1, 1, 1, 1) * conv._conv_forward(ones, conv.weight, None)
    return out if conv.bias is None else out + conv.bias.view(1, -1, 1, 1)

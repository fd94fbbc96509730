"""The tagging literature's mel front end: log-mel power spectrogram in dB, then ``BatchNorm2d(1)``."""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.audio.representations import LogMel, LogMelConfig


class MelFrontEnd(nn.Module):
    """Waveform (B, T) -> batch-normalised log-mel (B, 1, n_mels, N) with N = 1 + T // hop_length.

    Defaults are the CNN zoo's (Won et al. 2020): 16 kHz, n_fft 512, hop 256, f_max 8 kHz, power mel in dB.
    The filterbank is librosa's (Slaney scale, area-normalised filters, zero padding), which every shipped
    spectrolab tagger was trained with. The reference code used torchaudio's ``MelSpectrogram`` (HTK scale,
    unnormalised filters, reflect padding): ``LogMelConfig(htk=True, norm=None, pad_mode="reflect")`` gives
    exactly that, for porting reference checkpoints.
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
    ) -> None:
        super().__init__()
        config = LogMelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
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

"""Harmonic CNN (Won et al. 2020, "Data-driven harmonic filters for audio representation learning").

Front end: power STFT (n_fft 512, hop 256) -> triangular band-pass filters centred on a half-semitone grid
from C1 up to the note nearest ``sample_rate / (2 n_harmonic)`` and on its 2nd..6th harmonics, with
bandwidth ``(0.1079 f0 + 24.7) / Q`` (equivalent rectangular bandwidth over a trainable Q, initialised to 1)
-> dB -> stacked as ``n_harmonic`` channels (B, 6, 128, N) -> BatchNorm2d(6). Back end (5 s chunks, N = 313):
conv-BN-ReLU-pool 2 (128 ch), three residual pool-2 blocks, conv-BN-ReLU-pool 2 (256 ch), two residual blocks
pooling (2, 3) -> max over time -> linear 256 -> BN -> ReLU -> dropout 0.5 -> linear.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import nn

from spectrolab.audio import functional as F
from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import TaggingModel
from spectrolab.models.tagging.blocks import ConvBlock2d, DenseHead, ResPoolBlock2d, global_max_pool

HARMONIC_INPUT_LENGTH = 5 * 16000
ERB_ALPHA = 0.1079
ERB_BETA = 24.7


def harmonic_center_frequencies(*, sample_rate: int, n_harmonic: int, semitone_scale: int) -> np.ndarray:
    """Centre frequencies (n_harmonic * level,) in Hz, harmonic-major: f0 grid, then 2 x f0 grid, ...

    The f0 grid has ``semitone_scale`` steps per semitone from C1 up to (excluding) the note nearest
    ``sample_rate / (2 * n_harmonic)``, so that the highest harmonic stays below Nyquist.
    """
    low = int(librosa.note_to_midi("C1"))
    high = int(librosa.note_to_midi(librosa.hz_to_note(sample_rate / (2 * n_harmonic))))
    level = (high - low) * semitone_scale
    f0 = librosa.midi_to_hz(np.linspace(low, high, level + 1)[:-1])
    return np.concatenate([f0 * h for h in range(1, n_harmonic + 1)]).astype(np.float32)


def harmonic_filterbank(fft_freqs: torch.Tensor, centers: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Triangular filters (n_bins, n_bands): 1 at each centre, 0 beyond +-bandwidth/2, bandwidth ERB(f) / q."""
    bandwidth = (ERB_ALPHA * centers + ERB_BETA) / q
    distance = (fft_freqs[:, None] - centers[None, :]).abs()
    return (1 - 2 * distance / bandwidth).clamp_min(0.0)


class HarmonicFrontEnd(nn.Module):
    """Waveform (B, T) -> batch-normalised harmonic spectrogram (B, n_harmonic, level, 1 + T // hop_length)."""

    window: torch.Tensor
    centers: torch.Tensor
    fft_freqs: torch.Tensor

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_harmonic: int = 6,
        semitone_scale: int = 2,
        q: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.n_harmonic = n_fft, hop_length, n_harmonic
        centers = harmonic_center_frequencies(
            sample_rate=sample_rate, n_harmonic=n_harmonic, semitone_scale=semitone_scale
        )
        self.register_buffer("window", F.hann_window(n_fft), persistent=False)
        self.register_buffer("centers", torch.from_numpy(centers), persistent=False)
        fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
        self.register_buffer("fft_freqs", fft_freqs, persistent=False)
        self.q = nn.Parameter(torch.tensor([q]))
        self.bn = nn.BatchNorm2d(n_harmonic)

    @property
    def level(self) -> int:
        """Bands per harmonic."""
        return self.centers.numel() // self.n_harmonic

    def filterbank(self) -> torch.Tensor:
        """Current filters (n_fft // 2 + 1, n_harmonic * level)."""
        return harmonic_filterbank(self.fft_freqs, self.centers, self.q)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        power = F.stft(wave, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window).abs().pow(2)
        bands = self.filterbank().T @ power  # (B, n_harmonic * level, N)
        bands = bands.reshape(bands.shape[0], self.n_harmonic, self.level, bands.shape[-1])
        return self.bn(F.power_to_db(bands))


class HarmonicCNN(TaggingModel):
    """Harmonic CNN: waveform (B, T) -> logits (B, num_classes); published T = 80000 (5 s)."""

    def __init__(self, *, num_classes: int, input_length: int, n_channels: int = 128, n_harmonic: int = 6) -> None:
        super().__init__(sample_rate=16000, input_length=input_length, num_classes=num_classes)
        c = n_channels
        self.frontend = HarmonicFrontEnd(n_harmonic=n_harmonic)
        self.min_input_length = (2**5 * 3 * 3 - 1) * 256  # one frame left after the time poolings
        self.layers = nn.Sequential(
            ConvBlock2d(n_harmonic, c, pool=2),
            *(ResPoolBlock2d(c, c, pool=2) for _ in range(3)),
            ConvBlock2d(c, 2 * c, pool=2),
            *(ResPoolBlock2d(2 * c, 2 * c, pool=(2, 3)) for _ in range(2)),
        )
        self.head = DenseHead(2 * c, 2 * c, num_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.frontend(self.waveform(wave)))  # (B, 2c, 1, N')
        return self.head(global_max_pool(x))


@register_model("harmonic_cnn", task="tagging")
def harmonic_cnn(*, num_classes: int = 50, input_length: int = HARMONIC_INPUT_LENGTH) -> HarmonicCNN:
    """Harmonic CNN (Won et al. 2020): trainable harmonic filters, 6 stacked harmonics, 5 s chunks."""
    return HarmonicCNN(num_classes=num_classes, input_length=input_length)

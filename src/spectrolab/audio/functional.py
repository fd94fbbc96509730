"""Pure DSP on tensors: STFT, mel filterbanks, dB, instantaneous frequency, Griffin-Lim, distances.

Shapes: waveforms are (..., T); complex spectrograms (..., F, N) with F = n_fft // 2 + 1 bins and N frames.
Conventions follow librosa (``center=True``, zero padding, periodic Hann window) so results compare directly.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import librosa
import numpy as np
import torch

from spectrolab.errors import ConfigError


def hann_window(n_fft: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Periodic Hann window (librosa/scipy ``get_window('hann', n_fft)``)."""
    return torch.hann_window(n_fft, periodic=True, device=device, dtype=dtype)


def stft(
    wave: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor | None = None,
    center: bool = True,
    pad_mode: str = "constant",
) -> torch.Tensor:
    """Complex STFT of (..., T) -> (..., n_fft // 2 + 1, N), padded by n_fft // 2 each side when ``center``."""
    lead = wave.shape[:-1]
    if window is None:
        window = hann_window(n_fft, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(
        wave.reshape(-1, wave.shape[-1]),
        n_fft=n_fft,
        hop_length=hop_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        return_complex=True,
    )
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(
    spec: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor | None = None,
    length: int | None = None,
    center: bool = True,
) -> torch.Tensor:
    """Inverse of :func:`stft` (least-squares overlap-add): (..., F, N) complex -> (..., T).

    Equal to ``torch.istft``; when ``hop_length`` divides ``n_fft`` (every STFT here), the overlap-add is
    ``n_fft / hop_length`` shifted additions of hop-long blocks, several times faster than ``torch.istft``'s.
    """
    lead = spec.shape[:-2]
    if window is None:
        window = hann_window(n_fft, device=spec.device, dtype=spec.real.dtype)
    flat = spec.reshape(-1, *spec.shape[-2:])
    if n_fft % hop_length or window.shape[-1] != n_fft or spec.shape[-2] != n_fft // 2 + 1:
        wave = torch.istft(flat, n_fft=n_fft, hop_length=hop_length, window=window, center=center, length=length)
        return wave.reshape(*lead, wave.shape[-1])
    frames = torch.fft.irfft(flat, n=n_fft, dim=-2).transpose(-1, -2) * window  # (B, N, n_fft)
    signal = _overlap_add(frames, hop_length)
    envelope = _overlap_add(window.square().expand(1, *frames.shape[-2:]), hop_length)[0]
    start = n_fft // 2 if center else 0
    stop = signal.shape[-1] - start if length is None else start + length
    signal, envelope = signal[..., start:stop], envelope[start:stop]
    if bool((envelope.abs() < 1e-11).any()):
        raise ConfigError(f"window overlap-add has zeros (n_fft={n_fft}, hop_length={hop_length}): not invertible")
    wave = signal / envelope
    if length is not None and wave.shape[-1] < length:
        wave = torch.nn.functional.pad(wave, (0, length - wave.shape[-1]))
    return wave.reshape(*lead, wave.shape[-1])


def _overlap_add(frames: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Frames (B, N, n_fft), ``n_fft`` a multiple of ``hop_length``, summed at hops: (B, (N - 1) * hop + n_fft)."""
    batch, count, size = frames.shape
    ratio = size // hop_length
    blocks = frames.reshape(batch, count, ratio, hop_length)
    out = frames.new_zeros(batch, count + ratio - 1, hop_length)
    for k in range(ratio):
        out[:, k : k + count] += blocks[:, :, k]
    return out.reshape(batch, -1)


def num_frames(num_samples: int, *, hop_length: int) -> int:
    """Frames of a centred STFT over ``num_samples`` samples."""
    return 1 + num_samples // hop_length


@lru_cache(maxsize=32)
def _mel_np(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float, htk: bool, norm: Literal["slaney"] | None
) -> np.ndarray:
    return librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=htk, norm=norm, dtype=np.float32
    )


def mel_filterbank(
    *,
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    htk: bool = False,
    norm: Literal["slaney"] | None = "slaney",
) -> torch.Tensor:
    """Mel filterbank (n_mels, n_fft // 2 + 1), librosa's construction (Slaney scale and area norm by default)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ConfigError(f"need 0 <= f_min < f_max <= sample_rate/2, got f_min={f_min}, f_max={f_max}")
    return torch.from_numpy(_mel_np(sample_rate, n_fft, n_mels, float(f_min), float(f_max), htk, norm).copy())


def power_to_db(power: torch.Tensor, *, amin: float = 1e-10, top_db: float | None = None) -> torch.Tensor:
    """10 log10(max(power, amin)) (reference 1.0), optionally clipped to ``top_db`` below each item's peak.

    The peak is taken per leading item (all dims but the last two), so batched equals one-by-one.
    """
    db = 10.0 * torch.log10(power.clamp_min(amin))
    if top_db is not None:
        peak = db.flatten(-2).amax(-1)[..., None, None]
        db = torch.maximum(db, peak - top_db)
    return db


def db_to_power(db: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`power_to_db` (without clipping)."""
    return torch.pow(10.0, db / 10.0)


def instantaneous_frequency(phase: torch.Tensor, *, dim: int = -1) -> torch.Tensor:
    """Phase difference along ``dim`` (time), wrapped to [-pi, pi) and divided by pi: values in [-1, 1).

    The first frame keeps its own phase (as GANSynth does), so ``cumsum(if * pi)`` recovers the phase mod 2 pi.
    """
    diff = torch.diff(phase, dim=dim, prepend=torch.zeros_like(phase.narrow(dim, 0, 1)))
    return wrap_phase(diff) / math.pi


def wrap_phase(phase: torch.Tensor) -> torch.Tensor:
    """Angles wrapped to [-pi, pi)."""
    return torch.remainder(phase + math.pi, 2 * math.pi).sub(math.pi)


def phase_from_instantaneous_frequency(inst_freq: torch.Tensor, *, dim: int = -1) -> torch.Tensor:
    """Inverse of :func:`instantaneous_frequency`: cumulative sum along time, times pi."""
    return torch.cumsum(inst_freq * math.pi, dim=dim)


def griffin_lim(
    magnitude: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    init_phase: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013): magnitude (..., F, N) -> waveform (..., T).

    Starts from ``init_phase`` if given, else random phase drawn from ``generator``.
    """
    window = hann_window(n_fft, device=magnitude.device, dtype=magnitude.dtype)
    if init_phase is None:
        init_phase = 2 * math.pi * torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype)
        init_phase = init_phase.to(magnitude.device)
    angles = torch.polar(torch.ones_like(magnitude), init_phase)
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        wave = istft(magnitude * angles, n_fft=n_fft, hop_length=hop_length, window=window, length=length)
        rebuilt = stft(wave, n_fft=n_fft, hop_length=hop_length, window=window)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return istft(magnitude * angles, n_fft=n_fft, hop_length=hop_length, window=window, length=length)

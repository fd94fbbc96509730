"""Phase from magnitude alone, without iterations: peak-locked phase (a sinusoidal phase vocoder).

Each bin is assigned to its nearest spectral peak; the peak's frequency is refined by parabolic interpolation
of the log magnitude (QIFFT). Every bin advances its phase, from frame to frame, by the phase its peak's
sinusoid advances in one hop; bins start at ``pi * k``, which is the phase pattern a centred STFT (window
symmetric about the frame centre, FFT origin at the frame start) gives a sinusoid inside one main lobe. The
result is coherent for the harmonic notes the codec handles and costs a few elementwise passes.
"""

from __future__ import annotations

import math

import torch


def _nearest_peak(peaks: torch.Tensor) -> torch.Tensor:
    """For a boolean peak mask (..., F) along its last axis, the index of the nearest peak of every bin (ties:
    the lower; its own index where there is none), int64."""
    bins = peaks.shape[-1]
    index = torch.arange(bins, device=peaks.device, dtype=torch.int32)
    below = torch.where(peaks, index, -bins).cummax(dim=-1).values
    above = torch.where(peaks, index, 2 * bins).flip(-1).cummin(dim=-1).values.flip(-1)
    nearest = torch.where(index - below <= above - index, below, above)
    return torch.where((nearest < 0) | (nearest >= bins), index, nearest).long()


def _peak_bins(frames: torch.Tensor) -> torch.Tensor:
    """:func:`peak_frequencies` of magnitudes laid out (..., N, F), bins last: scans along the last axis are
    several times faster than along the frequency axis of (..., F, N)."""
    log_mag = torch.log(frames + 1e-9)
    left = torch.nn.functional.pad(log_mag[..., :-1], (1, 0), value=-math.inf)
    right = torch.nn.functional.pad(log_mag[..., 1:], (0, 1), value=-math.inf)
    peaks = (log_mag > left) & (log_mag >= right)
    curvature = left - 2 * log_mag + right
    offset = torch.where(peaks & (curvature < 0), 0.5 * (left - right) / curvature, torch.zeros_like(log_mag))
    offset = torch.nan_to_num(offset, nan=0.0, posinf=0.0, neginf=0.0).clamp(-0.5, 0.5)
    nearest = _nearest_peak(peaks)
    return nearest.to(log_mag.dtype) + offset.gather(-1, nearest)


def peak_frequencies(magnitude: torch.Tensor) -> torch.Tensor:
    """Frequency, in bins, of the peak each bin belongs to: magnitude (..., F, N) -> (..., F, N)."""
    return _peak_bins(magnitude.transpose(-1, -2).contiguous()).transpose(-1, -2)


def peak_locked_phase(magnitude: torch.Tensor, *, n_fft: int, hop_length: int) -> torch.Tensor:
    """Phase (..., F, N) for STFT magnitudes (..., F, N) of bins 0..F-1 of an ``n_fft``-point centred STFT."""
    bins = _peak_bins(magnitude.transpose(-1, -2).contiguous())
    advance = torch.remainder(2 * math.pi * hop_length / n_fft * bins, 2 * math.pi).transpose(-1, -2).contiguous()
    start = math.pi * (torch.arange(magnitude.shape[-2], device=magnitude.device) % 2).to(magnitude.dtype)
    # Advances and starts taken modulo 2 pi: the same phases, kept small (float32 keeps them precise, and the
    # cosines of small arguments are several times faster than those of ~1e5 radians).
    return torch.cumsum(advance, dim=-1) - advance[..., :1] + start[:, None]

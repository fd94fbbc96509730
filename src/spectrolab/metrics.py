"""Distances between a reference sound and an estimate, computed on spectrograms of the waveforms.

All functions take waveforms (..., T) (trimmed to the shorter length) and return one value per leading item.
"""

from __future__ import annotations

import torch

from spectrolab.audio import functional as F


def _magnitudes(
    reference: torch.Tensor, estimate: torch.Tensor, *, n_fft: int, hop_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    length = min(reference.shape[-1], estimate.shape[-1])
    ref = F.stft(reference[..., :length], n_fft=n_fft, hop_length=hop_length).abs()
    est = F.stft(estimate[..., :length], n_fft=n_fft, hop_length=hop_length).abs()
    return ref, est


def _convergence(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    return (ref - est).flatten(-2).norm(dim=-1) / ref.flatten(-2).norm(dim=-1).clamp_min(1e-12)


def spectral_convergence(
    reference: torch.Tensor, estimate: torch.Tensor, *, n_fft: int = 1024, hop_length: int = 256
) -> torch.Tensor:
    """||S_ref - S_est||_F / ||S_ref||_F on STFT magnitudes (0 is perfect)."""
    return _convergence(*_magnitudes(reference, estimate, n_fft=n_fft, hop_length=hop_length))


def _lsd(
    ref_power: torch.Tensor, est_power: torch.Tensor, *, floor_db: float, bins: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over frames of the RMS over bins (those of ``bins``, default all) of the dB error, both floored
    ``floor_db`` below the reference's peak over all bins."""
    ref_db = F.power_to_db(ref_power, amin=1e-10)
    est_db = F.power_to_db(est_power, amin=1e-10)
    floor = ref_db.flatten(-2).amax(-1)[..., None, None] - floor_db
    diff = torch.maximum(ref_db, floor) - torch.maximum(est_db, floor)
    if bins is not None:
        diff = diff[..., bins, :]
    return diff.pow(2).mean(-2).sqrt().mean(-1)


def log_spectral_distance(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    floor_db: float = 80.0,
) -> torch.Tensor:
    """Log-spectral distance in dB on linear-frequency power: mean over frames of RMS over bins of the dB error.

    Both spectrograms are floored ``floor_db`` below the reference's peak so silence does not dominate.
    """
    ref, est = _magnitudes(reference, estimate, n_fft=n_fft, hop_length=hop_length)
    return _lsd(ref.pow(2), est.pow(2), floor_db=floor_db)


def mel_log_spectral_distance(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    *,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 128,
    floor_db: float = 80.0,
) -> torch.Tensor:
    """Log-spectral distance in dB on a mel power spectrogram (perceptual frequency scale)."""
    ref, est = _magnitudes(reference, estimate, n_fft=n_fft, hop_length=hop_length)
    fb = F.mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels).to(ref)
    return _lsd(fb @ ref.pow(2), fb @ est.pow(2), floor_db=floor_db)


def multi_resolution_stft_distance(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    *,
    resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512)),
) -> torch.Tensor:
    """Mean over resolutions (n_fft, hop) of spectral convergence + mean |log magnitude error|."""
    total = torch.zeros(reference.shape[:-1], device=reference.device)
    for n_fft, hop in resolutions:
        ref, est = _magnitudes(reference, estimate, n_fft=n_fft, hop_length=hop)
        sc = _convergence(ref, est)
        log_l1 = (ref.clamp_min(1e-5).log() - est.clamp_min(1e-5).log()).abs().flatten(-2).mean(-1)
        total = total + sc + log_l1
    return total / len(resolutions)


def level_difference_db(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    *,
    frame_length: int = 400,
    floor_db: float = 60.0,
    start: int = 0,
    stop: int | None = None,
) -> torch.Tensor:
    """Mean level error in dB: over frames of ``frame_length`` samples within ``[start, stop)`` where the
    reference lies within ``floor_db`` of its loudest frame, the mean of (estimate dB - reference dB) of the
    frames' RMS. Positive means too loud; NaN where no frame qualifies."""
    length = min(reference.shape[-1], estimate.shape[-1])
    frames = length // frame_length

    def frame_db(x: torch.Tensor) -> torch.Tensor:
        power = x[..., : frames * frame_length].unflatten(-1, (frames, frame_length)).pow(2).mean(-1)
        return 10 * torch.log10(power.clamp_min(1e-12))

    ref, est = frame_db(reference), frame_db(estimate)
    index = torch.arange(frames, device=reference.device) * frame_length
    inside = (index >= start) & (index + frame_length <= (length if stop is None else stop))
    loud = ref >= ref.amax(-1, keepdim=True) - floor_db
    keep = loud & inside
    total = ((est - ref) * keep).sum(-1)
    return total / keep.sum(-1)


def band_log_spectral_distance(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    *,
    sample_rate: int,
    low_hz: float,
    high_hz: float,
    n_fft: int = 1024,
    hop_length: int = 256,
    floor_db: float = 80.0,
) -> torch.Tensor:
    """:func:`log_spectral_distance` over the STFT bins with ``low_hz <= f < high_hz`` only.

    The floor stays ``floor_db`` below the reference's peak over all bins, so bands compare on one scale.
    """
    ref, est = _magnitudes(reference, estimate, n_fft=n_fft, hop_length=hop_length)
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    return _lsd(ref.pow(2), est.pow(2), floor_db=floor_db, bins=(freqs >= low_hz) & (freqs < high_hz))

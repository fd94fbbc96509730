"""Paste an edit into the original audio: at the original's rate and channels, under a soft time-frequency mask.

The codec works at 16 kHz in mono and is lossy, so its output must not replace the whole sound. Instead, in a
short-time Fourier domain at the original's rate, each channel becomes ``X + M (g E - X)``: ``X`` the channel,
``E`` the edit brought to that rate, ``g`` (per channel and frequency bin) the channel's level over the mono mix
inside the region, so that each channel keeps its level and its place in the stereo image, and ``M`` a mask
that is 1 on the region and falls to 0 with raised-cosine edges outside it. Only the samples that frames with
a non-zero mask reach are recomputed; every other sample is the original's, untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from spectrolab.audio import functional as F
from spectrolab.edit.region import Region
from spectrolab.errors import ConfigError

MAX_FEATHER_SECONDS = 0.25
MAX_FEATHER_OCTAVES = 0.5


@dataclass(frozen=True)
class Feather:
    """Widths of the mask's raised-cosine edges: ``seconds`` before and after the region, ``octaves`` below and
    above its band (at most 0.25 s and half an octave)."""

    seconds: float = 0.04
    octaves: float = 1 / 6

    def __post_init__(self) -> None:
        if not 0.0 <= self.seconds <= MAX_FEATHER_SECONDS or not 0.0 <= self.octaves <= MAX_FEATHER_OCTAVES:
            raise ConfigError(
                f"feather of {self.seconds} s and {self.octaves} octaves: expected 0-{MAX_FEATHER_SECONDS} s and "
                f"0-{MAX_FEATHER_OCTAVES} octaves"
            )


def stft_size(sample_rate: int) -> int:
    """FFT size of the compositing STFT: the power of two at or below 64 ms (1024 at 16 kHz, 2048 at 44.1/48 kHz).
    Its hop is half of it (:data:`HOP_DIVISOR`)."""
    return 2 ** math.floor(math.log2(0.064 * sample_rate))


# Hop of the compositing STFT as a fraction of its size: Hann frames at half overlap invert exactly (least
# squares) and the mask's edges, tens of ms long, span several hops; a quarter would double the work.
HOP_DIVISOR = 2


def raised_cosine_edge(x: np.ndarray, *, start: float, stop: float) -> np.ndarray:
    """0 at or below ``start``, 1 at or above ``stop``, a raised cosine between (a step when they are equal)."""
    if stop <= start:
        return (x >= stop).astype(np.float64)
    t = np.clip((x - start) / (stop - start), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


@dataclass(frozen=True)
class MaskSupport:
    """Where the mask is non-zero: ``[start_s, stop_s)`` by ``[low_hz, high_hz)`` (the region plus its edges)."""

    start_s: float
    stop_s: float
    low_hz: float
    high_hz: float


def band_gains(region: Region, *, freqs: np.ndarray, feather: Feather, band_limit_hz: float) -> np.ndarray:
    """Frequency profile of the mask (F,): 1 on ``[low_hz, high_hz]``, raised-cosine edges ``feather.octaves``
    wide outside it, on a log-frequency axis. The edit holds nothing above ``band_limit_hz``, so a band reaching
    that limit is not widened past it: its upper edge falls to 0 at the limit instead (when the original has
    content there)."""
    octave = np.log2(np.maximum(freqs, 1e-9))
    width = feather.octaves
    low: np.ndarray | float = 1.0
    if region.low_hz > 0:
        low = raised_cosine_edge(octave, start=np.log2(region.low_hz) - width, stop=np.log2(region.low_hz))
    nyquist = float(freqs[-1])
    if region.high_hz >= band_limit_hz * (1 - 1e-9) and nyquist > band_limit_hz:
        top = np.log2(band_limit_hz)
        high = 1.0 - raised_cosine_edge(octave, start=top - width, stop=top)
    elif region.high_hz >= nyquist:
        high = np.ones_like(freqs)
    else:
        top = np.log2(region.high_hz)
        high = 1.0 - raised_cosine_edge(octave, start=top, stop=top + width)
    return np.asarray(low * high, dtype=np.float64)


def time_gains(region: Region, *, times: np.ndarray, feather: Feather) -> np.ndarray:
    """Time profile of the mask at ``times`` (N,): 1 on ``[start_s, stop_s]``, raised-cosine edges outside."""
    rise = raised_cosine_edge(times, start=region.start_s - feather.seconds, stop=region.start_s)
    fall = 1.0 - raised_cosine_edge(times, start=region.stop_s, stop=region.stop_s + feather.seconds)
    return rise * fall


def mask_support(region: Region, *, feather: Feather, band_limit_hz: float, nyquist: float) -> MaskSupport:
    """The time-frequency extent of the mask of ``region`` (see :func:`band_gains`)."""
    factor = 2.0**feather.octaves
    if region.high_hz >= band_limit_hz * (1 - 1e-9) and nyquist > band_limit_hz:
        high = band_limit_hz
    else:
        high = min(region.high_hz * factor, nyquist)
    return MaskSupport(region.start_s - feather.seconds, region.stop_s + feather.seconds, region.low_hz / factor, high)


@dataclass(frozen=True)
class Composite:
    """The original with the edit pasted in, over the samples given to :func:`composite`.

    Attributes:
        wave: (C, S) float64, full scale 1: the given samples of the result.
        edit_gain: the gain given to the pasted edit to keep the result within ``limit`` (1.0: none needed).
        clamped: samples still beyond ``limit`` at no edit at all (the original's own), set to the limit.
        level_gain: the gain that gave the edit the original's level inside the region (1.0: not matched).
    """

    wave: np.ndarray
    edit_gain: float = 1.0
    clamped: int = 0
    level_gain: float = 1.0


def _stft(x: torch.Tensor, n_fft: int, window: torch.Tensor) -> torch.Tensor:
    return torch.stft(x, n_fft, hop_length=n_fft // HOP_DIVISOR, window=window, center=True, return_complex=True)


def composite_span(support: MaskSupport, *, sample_rate: int, length: int) -> tuple[int, int]:
    """Samples ``[start, stop)`` that :func:`composite` recomputes for a mask with this ``support`` in a sound
    of ``length`` samples: those that frames with a non-zero mask reach, with a frame to spare either side."""
    n_fft = stft_size(sample_rate)
    hop = n_fft // HOP_DIVISOR
    first_frame = math.floor(max(support.start_s, 0.0) * sample_rate / hop)
    last_frame = math.ceil(support.stop_s * sample_rate / hop)
    return max(0, first_frame * hop - n_fft), min(length, last_frame * hop + n_fft)


def composite(
    original: np.ndarray,
    edit: np.ndarray,
    *,
    start: int,
    sample_rate: int,
    region: Region,
    band_limit_hz: float,
    feather: Feather = Feather(),
    limit: float = 1.0,
    match_level: bool = True,
    level_region: Region | None = None,
) -> Composite:
    """Paste ``edit`` into ``original`` inside ``region`` (see the module docstring).

    Args:
        original: (C, S) float, samples ``[start, start + S)`` of the sound at ``sample_rate``; they must hold
            :func:`composite_span` of the mask.
        edit: (S,) float, the mono edit at the same rate over the same samples.
        start: index of the first sample of ``original`` in the whole sound.
        region: what to replace, in seconds and Hz from the start of the whole sound.
        band_limit_hz: the highest frequency the edit holds (the codec's Nyquist).
        feather: widths of the mask's edges.
        limit: the largest magnitude a recomputed sample may take (full scale); when the pasted edit would
            exceed it, the edit's gain is lowered just enough (:func:`limiting_gain`), inside the region only.
        match_level: first give the edit the original's power inside ``level_region`` (:func:`matched_level_gain`),
            so that the region keeps its loudness whatever the resampled codes' level.
        level_region: the rectangle, inside ``region``, whose power is matched (hard-edged): what the user
            selected, where ``region`` is that rounded out to whole code cells. Default: ``region``'s mask.

    Returns:
        :class:`Composite` of the same samples; zero mask weight leaves a sample exactly as it was.
    """
    if edit.shape != original.shape[-1:]:
        raise ConfigError(f"the edit has {edit.shape[-1]} samples but the original segment {original.shape[-1]}")
    n_fft = stft_size(sample_rate)
    hop = n_fft // HOP_DIVISOR
    window = torch.hann_window(n_fft)
    channels = original.shape[0]
    both = np.concatenate([np.asarray(original, dtype=np.float32), np.asarray(edit, dtype=np.float32)[None]])
    spectra = _stft(torch.from_numpy(both), n_fft, window)  # (C + 1, F, N): the channels, then the edit
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    times = (start + hop * np.arange(spectra.shape[-1])) / sample_rate
    profile = band_gains(region, freqs=freqs, feather=feather, band_limit_hz=band_limit_hz)
    # Only the bins where the mask is non-zero take part (a fraction of them for most regions).
    band = np.flatnonzero(profile > 0)
    rows = slice(int(band[0]), int(band[-1]) + 1) if band.size else slice(0, 0)
    gains = profile[rows, None] * time_gains(region, times=times, feather=feather)[None, :]
    mask = torch.from_numpy(gains.astype(np.float32))
    spec, edit_spec = spectra[:channels, rows], spectra[channels, rows]
    weights = mask.square()
    mix = spec.mean(0)
    power, mono = masked_power(spec, weights), masked_power(mix, weights)
    level_gain = 1.0
    if match_level:
        level_weights, target = weights, mono
        if level_region is not None:  # the selection's own rectangle, hard-edged, on the same bins and frames
            edge = Feather(seconds=0.0, octaves=0.0)
            rect = band_gains(level_region, freqs=freqs, feather=edge, band_limit_hz=band_limit_hz)[rows, None]
            rect = rect * time_gains(level_region, times=times, feather=edge)
            level_weights = torch.from_numpy(rect.astype(np.float32))
            target = masked_power(mix, level_weights)
        level_gain = matched_level_gain(target, masked_power(edit_spec, level_weights))
    pasted = (level_gain * channel_gains(power, mono))[..., None] * edit_spec

    def istft(band_spec: torch.Tensor) -> np.ndarray:
        full = torch.zeros_like(spectra[:channels])
        full[:, rows] = band_spec
        return F.istft(full, n_fft=n_fft, hop_length=hop, window=window, length=both.shape[-1]).double().numpy()

    result = np.asarray(original, dtype=np.float64) + istft(mask * (pasted - spec))
    gain, clamped = 1.0, 0
    if np.abs(result).max() > limit:
        added = istft(mask * pasted)
        kept = result - added
        gain = limiting_gain(kept, added, limit=limit)
        result = kept + gain * added
        clamped = int((np.abs(result) > limit).sum())
        result = np.clip(result, -limit, limit)
    return Composite(result, gain, clamped, level_gain)


def matched_level_gain(target: torch.Tensor, have: torch.Tensor, *, max_db: float = 18.0) -> float:
    """The gain that gives the edit the original's power under the mask, from their masked powers per bin (F,)
    (:func:`masked_power`; the original's is its channels' mono mix): one broadband figure, so the edit keeps
    its own spectral shape. At most ``max_db`` either way; 0.0 where the original is silent (so is the edit
    then), 1.0 where the edit is."""
    wanted, got = float(target.sum()), float(have.sum())
    if got <= 0:
        return 1.0
    if wanted <= 0:
        return 0.0
    bound = 10 ** (max_db / 20)
    return min(max(math.sqrt(wanted / got), 1 / bound), bound)


def masked_power(spec: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Power per bin of a complex STFT (..., F, N) summed over frames with ``weights`` (F, N): (..., F)."""
    return ((spec.real.square() + spec.imag.square()) * weights).sum(-1)


def limiting_gain(kept: np.ndarray, added: np.ndarray, *, limit: float) -> float:
    """The largest ``b`` in [0, 1] with ``|kept + b * added| <= limit`` wherever ``|kept| <= limit`` (samples
    already beyond the limit without the edit cannot be helped by it and are left out)."""
    fixable = (np.abs(kept + added) > limit) & (np.abs(kept) <= limit) & (added != 0)
    if not fixable.any():
        return 1.0
    k, a = kept[fixable], added[fixable]
    return float(np.clip(((np.sign(a) * limit - k) / a).min(), 0.0, 1.0))


def channel_gains(power: torch.Tensor, mono: torch.Tensor) -> torch.Tensor:
    """Per channel and bin (C, F): sqrt of the channel's masked power over the mono mix's; 1 for mono input,
    at most the channel count (all of the mix in one channel).

    Args:
        power: (C, F) masked power of each channel (:func:`masked_power`).
        mono: (F,) masked power of the channels' mono mix.
    """
    if power.shape[0] == 1:
        return torch.ones_like(power)
    floor = 1e-9 * float(mono.max()) + 1e-30
    return ((power + floor) / (mono + floor)).sqrt().clamp_max(float(power.shape[0]))

"""Measures of an edit's outcome on audio: a span's median pitch (pYIN), a region's level, and the spectral flux
across a region's time edges. Waves are mono float arrays (T,) at ``sample_rate``; all functions are pure.

These are what ``scripts/prior_steering.py`` reports: whether an edit conditioned on a pitch lands on it,
whether an unconditioned edit keeps the note's pitch and level, and whether its edges are heard as seams.
"""

from __future__ import annotations

import math

import numpy as np

from spectrolab.edit.region import Region

# pYIN's search range: MIDI 31 (49 Hz) to 84 + 4 (1319 Hz) covers every note and target we score.
PITCH_FMIN_HZ = 48.0
PITCH_FMAX_HZ = 1400.0
# Spectrogram of the level and flux measures: 64 ms frames, 16 ms hop at 16 kHz.
N_FFT = 1024
HOP = 256


def median_midi(
    wave: np.ndarray,
    *,
    sample_rate: int,
    start_s: float,
    stop_s: float,
    min_voiced: float = 0.5,
    min_probability: float = 0.25,
    fmin: float = PITCH_FMIN_HZ,
    fmax: float = PITCH_FMAX_HZ,
) -> float | None:
    """Median pYIN f0 (as a fractional MIDI number) of the voiced frames of ``wave[start_s:stop_s]``; ``None``
    when fewer than ``min_voiced`` of its frames are voiced (an unpitched span). A frame is voiced when pYIN's
    Viterbi path says so and its voicing probability is at least ``min_probability`` (the path alone calls
    half the frames of white noise voiced)."""
    import librosa

    segment = np.asarray(wave, dtype=np.float32)[round(start_s * sample_rate) : round(stop_s * sample_rate)]
    f0, flag, probability = librosa.pyin(
        segment, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=2048, hop_length=512, center=False
    )
    voiced = flag & (probability >= min_probability)
    if voiced.size == 0 or voiced.mean() < min_voiced:
        return None
    return float(librosa.hz_to_midi(np.median(f0[voiced])))


def power_spectrogram(wave: np.ndarray) -> np.ndarray:
    """(F, N) power |STFT|^2 (Hann, ``N_FFT``, ``HOP``, centred frames)."""
    import librosa

    return np.abs(librosa.stft(np.asarray(wave, dtype=np.float32), n_fft=N_FFT, hop_length=HOP)) ** 2


def _rows(region: Region, sample_rate: int) -> np.ndarray:
    hz = np.arange(N_FFT // 2 + 1) * sample_rate / N_FFT
    return (hz >= region.low_hz) & (hz < region.high_hz)


def _frame_seconds(frames: int, sample_rate: int) -> np.ndarray:
    return np.arange(frames) * HOP / sample_rate


def region_level_db(wave: np.ndarray, region: Region, *, sample_rate: int) -> float:
    """Mean power (dB) of the spectrogram bins whose centres lie in ``region``."""
    power = power_spectrogram(wave)
    seconds = _frame_seconds(power.shape[1], sample_rate)
    cols = (seconds >= region.start_s) & (seconds < region.stop_s)
    return float(10 * math.log10(power[_rows(region, sample_rate)][:, cols].mean() + 1e-20))


def edge_flux_db(wave: np.ndarray, region: Region, *, sample_rate: int, within_s: float = 0.04) -> float:
    """Spectral flux across the region's time edges: the mean over its band's bins of |dB change| from one frame
    to the next (dB floored 80 dB below the peak), averaged over the frames within ``within_s`` of the start or
    the stop of ``region``."""
    power = power_spectrogram(wave)
    db = 10 * np.log10(power + 1e-20)
    db = np.maximum(db, db.max() - 80)[_rows(region, sample_rate)]
    flux = np.abs(np.diff(db, axis=1)).mean(axis=0)  # flux[t]: from frame t to t + 1
    middle = (np.arange(flux.shape[0]) + 0.5) * HOP / sample_rate
    near = (np.abs(middle - region.start_s) <= within_s) | (np.abs(middle - region.stop_s) <= within_s)
    return float(flux[near].mean())

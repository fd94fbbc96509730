"""Peak-locked phase: peak frequencies by parabolic interpolation, and coherent resynthesis of sinusoids."""

from __future__ import annotations

import math

import pytest
import torch

from spectrolab import metrics
from spectrolab.audio import functional as F
from spectrolab.codec.phase import peak_frequencies, peak_locked_phase

N_FFT, HOP, SR = 1024, 256, 16000


def _tones(freqs: list[float], seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return sum(0.3 * torch.sin(2 * math.pi * f * t + i) for i, f in enumerate(freqs))


def _magnitude(wave: torch.Tensor) -> torch.Tensor:
    return F.stft(wave, n_fft=N_FFT, hop_length=HOP)[..., :-1, :].abs()


@pytest.mark.parametrize("freq", [440.0, 1234.5, 3001.0])
def test_peak_frequency_of_a_sinusoid(freq):
    magnitude = _magnitude(_tones([freq]))
    bins = peak_frequencies(magnitude)[:, 10]
    k = round(freq * N_FFT / SR)
    # parabolic interpolation on a Hann log-spectrum is accurate to a few hundredths of a bin
    assert bins[k - 1 : k + 2] == pytest.approx([freq * N_FFT / SR] * 3, abs=0.05)


def test_adjacent_bins_of_one_lobe_alternate_by_pi_as_the_stft_does():
    wave = _tones([1000.0])
    phase = peak_locked_phase(_magnitude(wave), n_fft=N_FFT, hop_length=HOP)
    k = 64  # 1000 Hz
    diff = torch.remainder(phase[k + 1] - phase[k], 2 * math.pi)
    assert torch.allclose(diff, torch.full_like(diff, math.pi), atol=1e-3)
    true = F.stft(wave, n_fft=N_FFT, hop_length=HOP)[k : k + 2].angle()
    assert torch.remainder(true[1] - true[0], 2 * math.pi)[10].item() == pytest.approx(math.pi, abs=0.1)


def test_resynthesis_of_harmonic_tones_is_coherent():
    wave = _tones([220.0, 440.0, 660.0, 880.0])
    magnitude = _magnitude(wave)
    phase = peak_locked_phase(magnitude, n_fft=N_FFT, hop_length=HOP)
    spec = torch.cat([torch.polar(magnitude, phase), torch.zeros(1, magnitude.shape[-1], dtype=torch.complex64)])
    rebuilt = F.istft(spec, n_fft=N_FFT, hop_length=HOP, length=wave.shape[-1])
    assert metrics.spectral_convergence(wave, rebuilt).item() < 0.1
    # zero phase everywhere, for contrast, is far from coherent
    flat = F.istft(torch.cat([magnitude, torch.zeros_like(magnitude[:1])]).to(torch.complex64), n_fft=N_FFT,
                   hop_length=HOP, length=wave.shape[-1])  # fmt: skip
    assert metrics.spectral_convergence(wave, flat).item() > 0.5


def test_silence_gives_finite_phase():
    phase = peak_locked_phase(torch.zeros(2, 512, 20), n_fft=N_FFT, hop_length=HOP)
    assert torch.isfinite(phase).all()


def test_phases_are_kept_small_and_equal_the_unwrapped_recursion_mod_two_pi():
    magnitude = _magnitude(_tones([440.0, 1234.5, 5000.0], seconds=3.0)).double()
    phase = peak_locked_phase(magnitude, n_fft=N_FFT, hop_length=HOP)
    # the recursion written out without wrapping: start pi * k, advance 2 pi hop / n_fft * peak bin per frame
    advance = 2 * math.pi * HOP / N_FFT * peak_frequencies(magnitude)
    start = math.pi * torch.arange(magnitude.shape[-2], dtype=torch.float64)[:, None]
    unwrapped = torch.cumsum(advance, dim=-1) - advance[..., :1] + start
    assert float(unwrapped.abs().max()) > 1e4 and float(phase.abs().max()) < 2 * math.pi * magnitude.shape[-1] + 4
    assert float(F.wrap_phase(phase - unwrapped).abs().max()) < 1e-6

"""Pure DSP against librosa (within 1e-4 relative) and against its own inverses."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from spectrolab.audio import functional as F
from spectrolab.errors import ConfigError

SR = 16000


@pytest.mark.parametrize(("n_fft", "hop_length"), [(512, 256), (1024, 256), (2048, 512)])
def test_stft_matches_librosa(notes, n_fft, hop_length):
    ours = F.stft(notes[:2].double(), n_fft=n_fft, hop_length=hop_length).numpy()
    ref = librosa.stft(notes[:2].double().numpy(), n_fft=n_fft, hop_length=hop_length, pad_mode="constant")
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-9 * np.abs(ref).max())


def test_istft_inverts_stft(notes):
    spec = F.stft(notes, n_fft=1024, hop_length=256)
    back = F.istft(spec, n_fft=1024, hop_length=256, length=notes.shape[-1])
    assert (back - notes).abs().max() < 1e-5


@pytest.mark.parametrize(
    ("n_fft", "hop_length", "frames", "length"),
    [(1024, 256, 50, None), (1024, 256, 50, 12001), (2048, 512, 7, None), (512, 128, 30, 4000), (256, 64, 3, 10)],
)
def test_istft_fast_overlap_add_equals_torch_istft(n_fft, hop_length, frames, length):
    spec = torch.randn(2, 3, n_fft // 2 + 1, frames, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    window = F.hann_window(n_fft, dtype=torch.float64)
    ours = F.istft(spec, n_fft=n_fft, hop_length=hop_length, window=window, length=length)
    flat = spec.reshape(-1, n_fft // 2 + 1, frames)
    ref = torch.istft(flat, n_fft, hop_length=hop_length, window=window, center=True, length=length)
    assert ours.shape == (2, 3, ref.shape[-1])
    np.testing.assert_allclose(ours.reshape(ref.shape).numpy(), ref.numpy(), rtol=0, atol=1e-12)


def test_istft_refuses_a_window_that_does_not_overlap_add():
    spec = torch.ones(1, 257, 4, dtype=torch.complex64)
    with pytest.raises(ConfigError, match="not invertible"):
        F.istft(spec, n_fft=512, hop_length=256, window=torch.ones(512).index_fill(0, torch.arange(384), 0.0))


@pytest.mark.parametrize(("n_mels", "f_max", "htk"), [(96, 8000.0, False), (128, None, False), (40, 4000.0, True)])
def test_mel_filterbank_is_librosas(n_mels, f_max, htk):
    ours = F.mel_filterbank(sample_rate=SR, n_fft=512, n_mels=n_mels, f_max=f_max, htk=htk).numpy()
    ref = librosa.filters.mel(sr=SR, n_fft=512, n_mels=n_mels, fmax=f_max, htk=htk)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=0)


def test_mel_filterbank_rejects_bad_range():
    with pytest.raises(ConfigError, match="f_max"):
        F.mel_filterbank(sample_rate=SR, n_fft=512, n_mels=64, f_max=9000.0)


def test_power_to_db_matches_librosa(notes):
    power = F.stft(notes[:1], n_fft=512, hop_length=256).abs().pow(2)
    for top_db in (None, 80.0):
        ours = F.power_to_db(power, top_db=top_db)[0].numpy()
        ref = librosa.power_to_db(power[0].numpy(), ref=1.0, amin=1e-10, top_db=top_db)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(F.db_to_power(F.power_to_db(power)), power.clamp_min(1e-10), rtol=1e-4)


def test_power_to_db_batched_equals_one_by_one(notes):
    power = F.stft(notes, n_fft=512, hop_length=256).abs().pow(2)
    batched = F.power_to_db(power, top_db=60.0)
    for i in range(len(notes)):
        torch.testing.assert_close(batched[i], F.power_to_db(power[i : i + 1], top_db=60.0)[0])


def test_instantaneous_frequency_roundtrip_and_range():
    phase = torch.cumsum(torch.rand(3, 40, 50) * 6 - 3, dim=-1)
    inst = F.instantaneous_frequency(phase)
    assert inst.min() >= -1 and inst.max() < 1
    back = F.phase_from_instantaneous_frequency(inst)
    wrapped = torch.remainder(back - phase + torch.pi, 2 * torch.pi) - torch.pi
    assert wrapped.abs().max() < 1e-4


def test_instantaneous_frequency_of_a_sine_is_its_frequency():
    """A stationary sine advances its phase by 2 pi f hop / sr per frame at its bin."""
    f0, n_fft, hop = 440.0, 2048, 512
    t = torch.arange(SR * 2, dtype=torch.float64) / SR
    spec = F.stft(torch.sin(2 * torch.pi * f0 * t), n_fft=n_fft, hop_length=hop)
    k = round(f0 * n_fft / SR)
    inst = F.instantaneous_frequency(spec.angle())[k, 4:-4]
    advance = 2 * np.pi * f0 * hop / SR
    expected = (np.remainder(advance + np.pi, 2 * np.pi) - np.pi) / np.pi
    np.testing.assert_allclose(inst.numpy(), expected, atol=1e-3)


def test_griffin_lim_reaches_low_spectral_error(notes):
    magnitude = F.stft(notes[:2], n_fft=1024, hop_length=256).abs()
    gen = torch.Generator().manual_seed(0)
    wave = F.griffin_lim(magnitude, n_fft=1024, hop_length=256, n_iter=32, length=notes.shape[-1], generator=gen)
    rebuilt = F.stft(wave, n_fft=1024, hop_length=256).abs()
    convergence = (rebuilt - magnitude).norm() / magnitude.norm()
    random_phase = F.griffin_lim(magnitude, n_fft=1024, hop_length=256, n_iter=0, length=notes.shape[-1], generator=gen)
    baseline = (F.stft(random_phase, n_fft=1024, hop_length=256).abs() - magnitude).norm() / magnitude.norm()
    assert convergence < 0.15 and convergence < baseline / 3

"""Representations: librosa equivalence, batching, config round trips, presets and inversion quality."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

from spectrolab import metrics
from spectrolab.audio import functional as F_dsp
from spectrolab.audio.representations import (
    LinearSTFT,
    LinearSTFTConfig,
    LogMel,
    LogMelConfig,
    MelIF,
    MelIFConfig,
    representation_from_config,
)
from spectrolab.errors import ConfigError

SR = 16000


@pytest.mark.parametrize("n_mels", [96, 128])
def test_logmel_matches_librosa_melspectrogram(notes, n_mels):
    rep = LogMel(LogMelConfig(n_mels=n_mels)).double()
    ours = rep.mel_power(notes.double())
    ref = librosa.feature.melspectrogram(
        y=notes.double().numpy(), sr=SR, n_fft=512, hop_length=256, n_mels=n_mels, fmax=8000.0, pad_mode="constant"
    )
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-4, atol=1e-4 * ref.max())
    db = rep(notes.double())[:, 0].numpy()
    ref_db = librosa.power_to_db(ref, ref=1.0, amin=1e-10, top_db=None)
    audible = ref_db > ref_db.max() - 80.0  # below that, float32 window rounding shows
    np.testing.assert_allclose(db[audible], ref_db[audible], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "rep",
    [LogMel(LogMelConfig(top_db=80.0)), LinearSTFT(), MelIF(MelIFConfig.fast()), MelIF(MelIFConfig.gansynth())],
    ids=["logmel", "stft", "melif-fast", "melif-gansynth"],
)
def test_batched_equals_one_by_one(notes, rep):
    batched = rep(notes)
    for i in range(len(notes)):
        torch.testing.assert_close(batched[i : i + 1], rep(notes[i]), atol=1e-4, rtol=1e-4)
    assert batched.shape[:2] == (len(notes), rep.channels)
    assert torch.isfinite(batched).all()


def test_input_layouts_and_bad_shapes(notes):
    rep = LogMel()
    torch.testing.assert_close(rep(notes[:2]), rep(notes[:2, None]))
    with pytest.raises(ConfigError, match="waveform"):
        rep(torch.zeros(2, 2, 100))


def test_gansynth_preset_shapes(notes):
    spec = MelIF(MelIFConfig.gansynth())(notes)
    assert spec.shape == (len(notes), 2, 1024, 128)
    fast = MelIF(MelIFConfig.fast())(notes)
    assert fast.shape == (len(notes), 2, 512, 251)


@pytest.mark.parametrize(
    "config",
    [LogMelConfig(n_mels=128, top_db=80.0), LinearSTFTConfig(n_fft=2048, hop_length=512), MelIFConfig.gansynth()],
)
def test_config_roundtrip(config, notes):
    rebuilt = representation_from_config(config.to_dict())
    assert rebuilt.config == config
    torch.testing.assert_close(rebuilt(notes[:1]), representation_from_config(config)(notes[:1]))


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown representation kind"):
        representation_from_config({"kind": "wavelet"})
    with pytest.raises(ConfigError, match="n_mel"):
        representation_from_config({"kind": "logmel", "n_mel": 64})
    with pytest.raises(ConfigError, match="hop_length"):
        LinearSTFTConfig(n_fft=256, hop_length=512)


@pytest.mark.parametrize(
    ("rep", "max_mel_lsd", "max_sc"),
    [
        (MelIF(MelIFConfig.gansynth()), 2.5, 0.08),
        (MelIF(MelIFConfig.fast()), 2.5, 0.08),
        (LinearSTFT(), 1.5, 0.12),
        (LogMel(LogMelConfig(n_fft=1024, n_mels=256, f_max=None)), 4.5, 0.2),
    ],
    ids=["melif-gansynth", "melif-fast", "stft-griffinlim", "logmel256-griffinlim"],
)
def test_inverse_quality_on_real_notes(notes, rep, max_mel_lsd, max_sc):
    """Round-trip bounds measured on the fixture notes (see scripts/representation_results.py), with margin."""
    torch.manual_seed(0)
    with torch.inference_mode():
        back = rep.inverse(rep(notes), length=notes.shape[-1])
    assert back.shape == notes.shape
    mel_lsd = metrics.mel_log_spectral_distance(notes, back, sample_rate=SR).mean()
    sc = metrics.spectral_convergence(notes, back).mean()
    assert mel_lsd < max_mel_lsd and sc < max_sc


def test_melif_inverse_is_much_better_than_low_resolution_melif(notes):
    """The low-resolution warp loses phase detail: GANSynth's 1024-bin warp is needed to invert well."""
    with torch.inference_mode():
        good = MelIF(MelIFConfig.gansynth())
        low = MelIF(MelIFConfig(n_fft=1024, hop_length=256, n_mels=128))
        err_good = metrics.mel_log_spectral_distance(notes, good.inverse(good(notes), length=64000), sample_rate=SR)
        err_low = metrics.mel_log_spectral_distance(notes, low.inverse(low(notes), length=64000), sample_rate=SR)
    assert err_low.mean() > 3 * err_good.mean()


def test_modules_follow_device_and_dtype(notes):
    rep = MelIF(MelIFConfig.fast()).double()
    assert rep.warp.dtype == torch.float64 and rep(notes[:1].double()).dtype == torch.float64


def test_logmel_torchaudio_variant_matches_librosa_htk(notes):
    rep = LogMel(LogMelConfig(n_mels=128, htk=True, norm=None, pad_mode="reflect")).double()
    ref = librosa.feature.melspectrogram(
        y=notes.double().numpy(),
        sr=SR,
        n_fft=512,
        hop_length=256,
        n_mels=128,
        fmax=8000.0,
        htk=True,
        norm=None,
        pad_mode="reflect",
    )
    np.testing.assert_allclose(rep.mel_power(notes.double()).numpy(), ref, rtol=1e-4, atol=1e-4 * ref.max())
    with pytest.raises(ConfigError, match="pad_mode"):
        LogMelConfig(pad_mode="edge")


def test_melif_sparse_projections_equal_the_dense_matrices(notes):
    rep = MelIF(MelIFConfig.fast())
    linear = torch.rand(2, 512, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(rep.to_mel(linear), rep.warp @ linear, rtol=1e-5, atol=1e-6)
        mel = rep.warp @ linear
        torch.testing.assert_close(rep.from_mel(mel), rep.unwarp @ mel, rtol=1e-4, atol=1e-5)
    # with gradients the dense product runs, and gradients flow
    linear.requires_grad_(True)
    rep.to_mel(linear).sum().backward()
    torch.testing.assert_close(linear.grad, rep.warp.sum(0)[None, :, None].expand_as(linear))


def test_melif_if_channel_equals_the_if_of_the_warped_unwrapped_phase(notes):
    # the forward computes wrap(W diff(phi)); by linearity it is the definition's IF(W cumsum(diff(phi)))
    rep = MelIF(MelIFConfig.fast())
    wave = notes[:2].double()
    rep = rep.double()
    spec = rep._stft(wave)[:, :-1]
    phase = F_dsp.phase_from_instantaneous_frequency(F_dsp.instantaneous_frequency(spec.angle()))
    definition = F_dsp.instantaneous_frequency(rep.warp @ phase)
    out = rep(wave)
    ours = out[:, 1]
    difference = F_dsp.wrap_phase(math.pi * (ours - definition)).abs()  # the same angles, up to wrapping
    # Where the note is digital silence the STFT holds rounding residue, whose phase is arbitrary: compare the
    # bands holding any energy in this frame and the one before (three in four here).
    floor = math.log(rep.config.log_eps) + 1e-6
    energetic = (out[:, 0] > floor) & (torch.nn.functional.pad(out[:, 0], (1, 0), value=floor)[..., :-1] > floor)
    assert float(energetic.double().mean()) > 0.5
    assert float(difference[energetic].max()) < 1e-6


def test_melif_steps_at_digital_silence_are_the_difference_of_the_angles(notes):
    # STFT bins of exact zeros (silence before the note) have angle 0: a step into or out of them is the other
    # side's angle, as in the plain difference of the angles, in every frame and band.
    rep = MelIF(MelIFConfig.fast()).double()
    wave = notes[:1].double().clone()
    wave[:, : wave.shape[-1] // 2] = 0.0
    spec = rep._stft(wave)[:, :-1]
    assert bool((spec == 0).any()) and bool((spec != 0).any())
    angle = spec.angle()
    steps = torch.cat([angle[..., :1], F_dsp.wrap_phase(angle[..., 1:] - angle[..., :-1])], dim=-1)
    expected = F_dsp.wrap_phase(rep.warp @ steps) / math.pi
    difference = F_dsp.wrap_phase(math.pi * (rep(wave)[:, 1] - expected)).abs()
    assert float(difference.max()) < 1e-9

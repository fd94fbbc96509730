"""The perceptual loss: psychoacoustic formulas against their published values, filterbank, masking, loudness,
gradients, batching, sample rates, bad input, and the original recipe's construction and known faults."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import firwin2
from scipy.signal.windows import gaussian

from spectrolab.errors import ConfigError
from spectrolab.losses import PRESETS, OriginalPerceptualLoss, PerceptualLoss, perceptual_loss
from spectrolab.losses import functional as LF

pytestmark = pytest.mark.usefixtures("one_thread")


def tone(freq: float, *, sample_rate: int, seconds: float = 0.5, amplitude: float = 1.0) -> torch.Tensor:
    """A sinusoid with 20 ms raised-cosine fades (no onset clicks)."""
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    fade = torch.clamp(torch.minimum(t, t[-1] - t) / 0.02, max=1.0)
    return (amplitude * torch.sin(2 * math.pi * freq * t) * torch.sin(fade * math.pi / 2) ** 2).float()


def db(level_dbfs: float) -> float:
    return 10 ** (level_dbfs / 20)


# --- formulas ------------------------------------------------------------------------------------------------


def test_bark_scale_and_band_widths_match_published_values():
    # Traunmüller 1990 at 1 kHz; Zwicker's table puts 1 kHz at 8.5 Bark, its critical band is 160 Hz wide.
    assert LF.hz_to_bark(1000.0) == pytest.approx(26.81 * 1000 / 2960 - 0.53)
    assert LF.hz_to_bark(1000.0) == pytest.approx(8.5, abs=0.05)
    np.testing.assert_allclose(LF.bark_to_hz(LF.hz_to_bark([50.0, 500.0, 5000.0])), [50.0, 500.0, 5000.0])
    assert LF.critical_bandwidth(1000.0) == pytest.approx(162.2, abs=0.2)
    assert LF.critical_bandwidth(0.0) == pytest.approx(100.0)
    assert LF.equivalent_rectangular_bandwidth(1000.0) == pytest.approx(132.6, abs=0.1)


def test_terhardt_threshold_and_schroeder_spreading():
    # Terhardt 1979: 3.37 dB SPL at 1 kHz, its minimum (about -5 dB) near 3.3 kHz, steep at both ends.
    assert LF.absolute_threshold_db(1000.0) == pytest.approx(3.37, abs=0.01)
    freqs = np.linspace(1000, 6000, 501)
    assert 3000 < freqs[np.argmin(LF.absolute_threshold_db(freqs))] < 3700
    assert LF.absolute_threshold_db(3300.0) == pytest.approx(-5.0, abs=0.3)
    assert LF.absolute_threshold_db(50.0) > 39 and LF.absolute_threshold_db(15000.0) > 40
    # Schroeder et al. 1979: 0 dB at the masker, shallower above it (upward spread of masking) than below.
    assert LF.spreading_db(0.0) == pytest.approx(0.0, abs=0.01)
    assert LF.spreading_db(2.0) == pytest.approx(-12.3, abs=0.1) and LF.spreading_db(-2.0) < -25


def test_filterbank_has_unit_peak_and_its_stated_bandwidth():
    bank = LF.bark_filterbank(sample_rate=16000, n_fft=16384)
    step = 16000 / 16384
    assert bank.weights.max(1) == pytest.approx(np.ones(len(bank.bark)), abs=1e-3)
    inner = (bank.center_hz > 200) & (bank.center_hz < 7000)
    np.testing.assert_allclose(bank.weights.sum(1)[inner] * step, bank.bandwidth_hz[inner], rtol=1e-3)
    np.testing.assert_allclose(np.diff(bank.bark), bank.bark_step)


def test_tone_inside_a_band_has_its_power_and_outside_does_not():
    loss = PerceptualLoss(sample_rate=16000)
    center = float(loss.bank.center_hz[20])
    power = loss.band_power(tone(center, sample_rate=16000, amplitude=0.5)[None])[0, :, 4:-4].mean(-1)
    assert power[20] == pytest.approx(0.25, rel=0.03)  # amplitude 0.5 at the band centre -> power 0.25
    far = np.abs(loss.bank.bark - loss.bank.bark[20]) > 2.5
    assert float(power[far].max()) < 1e-4 * 0.25
    off = loss.band_power(tone(center * 2.0, sample_rate=16000, amplitude=0.5)[None])[0, 20, 4:-4].mean()
    assert off < 1e-4 * 0.25


# --- masking -------------------------------------------------------------------------------------------------

SR = 16000
MASKER = tone(1000.0, sample_rate=SR, amplitude=db(-10))  # 86 dB SPL


def _error_cost(loss: torch.nn.Module, error_hz: float, *, with_masker: bool) -> float:
    error = tone(error_hz, sample_rate=SR, amplitude=db(-50))  # 46 dB SPL
    target = MASKER if with_masker else torch.zeros_like(MASKER)
    return float(loss((target + error)[None], target[None]))


def test_error_under_a_maskers_threshold_costs_far_less():
    masked = PerceptualLoss(sample_rate=SR, masking=True)
    ratio = _error_cost(masked, 1600.0, with_masker=True) / _error_cost(masked, 1600.0, with_masker=False)
    assert ratio < 0.25
    # Masking is what hides it: without it, the same error beside the same masker costs over three times more.
    plain = PerceptualLoss(sample_rate=SR)
    assert _error_cost(masked, 1600.0, with_masker=True) < 0.3 * _error_cost(plain, 1600.0, with_masker=True)


def test_error_far_from_any_masker_counts_in_full():
    masked = PerceptualLoss(sample_rate=SR, masking=True)
    ratio = _error_cost(masked, 5000.0, with_masker=True) / _error_cost(masked, 5000.0, with_masker=False)
    assert ratio == pytest.approx(1.0, abs=0.05)


def test_temporal_masking_hides_an_error_just_after_a_loud_burst():
    generator = torch.Generator().manual_seed(0)
    target = torch.zeros(SR)
    target[: SR // 10] = 0.3 * torch.randn(SR // 10, generator=generator)  # 100 ms of loud noise
    blip = db(-55) * torch.randn(SR // 50, generator=generator)  # 20 ms of quiet noise

    def cost(loss: torch.nn.Module, start: int) -> float:
        pred = target.clone()
        pred[start : start + blip.numel()] += blip
        return float(loss(pred[None], target[None]))

    soon, late = SR // 10 + SR // 100, SR // 2  # 10 ms after the burst vs 400 ms after it
    temporal, plain = PerceptualLoss(sample_rate=SR, temporal_masking=True), PerceptualLoss(sample_rate=SR)
    assert cost(temporal, soon) < 0.5 * cost(plain, soon)
    assert cost(temporal, late) == pytest.approx(cost(plain, late), rel=0.02)


# --- loudness ------------------------------------------------------------------------------------------------


def test_gain_error_costs_the_same_at_any_level_well_above_threshold(notes):
    loss = PerceptualLoss(sample_rate=SR)
    note = notes[:1, : SR // 2]
    costs = [float(loss(db(-3) * level * note, level * note)) for level in (1.0, 0.1)]
    assert costs[1] == pytest.approx(costs[0], rel=0.1)
    assert float(loss(db(-6) * note, note)) > 1.5 * costs[0]  # a bigger error costs more


def test_sound_below_the_threshold_in_quiet_costs_nothing():
    loss = PerceptualLoss(sample_rate=SR)
    silence = torch.zeros(1, SR // 2)
    quiet = tone(1000.0, sample_rate=SR, amplitude=db(-110))[None]  # -14 dB SPL, under the 3.4 dB threshold
    audible = tone(1000.0, sample_rate=SR, amplitude=db(-50))[None]
    assert float(loss(quiet, silence)) < 0.01 * float(loss(audible, silence))
    flat = PerceptualLoss(sample_rate=SR, absolute_threshold=False)  # flat 0 dB SPL floor: still inaudible
    low = tone(60.0, sample_rate=SR, amplitude=db(-70))[None]  # 26 dB SPL at 60 Hz: under Terhardt's 34.5 dB
    assert float(loss(low, silence)) < 0.2 * float(flat(low, silence))


# --- gradients, batching, rates ------------------------------------------------------------------------------

LOSSES = {
    "ours": lambda sr: PerceptualLoss(sample_rate=sr),
    "ours_masking": lambda sr: perceptual_loss("ours_masking", sample_rate=sr),
    "ours_l2_erb": lambda sr: PerceptualLoss(sample_rate=sr, comparison="l2", bandwidth="erb"),
    "ours_cosine": lambda sr: PerceptualLoss(sample_rate=sr, comparison="cosine", masking=True),
    "original": lambda sr: OriginalPerceptualLoss(sample_rate=sr),
}


@pytest.mark.parametrize("name", LOSSES)
def test_gradients_are_finite_and_non_zero(notes, name):
    loss = LOSSES[name](SR)
    target = notes[:2, :4096]
    pred = (0.5 * target + 0.01 * torch.randn_like(target)).requires_grad_()
    value = loss(pred, target)
    value.backward()
    assert value.dim() == 0 and torch.isfinite(value)
    assert torch.isfinite(pred.grad).all() and float(pred.grad.abs().sum(1).min()) > 0


@pytest.mark.parametrize("name", LOSSES)
def test_batched_equals_one_by_one(notes, name):
    loss = LOSSES[name](SR)
    loss.reduction = "none"
    target = notes[:3, :4096]
    pred = torch.roll(target, 7, dims=-1) * 0.8
    batched = loss(pred, target)
    singles = torch.cat([loss(pred[i : i + 1], target[i : i + 1]) for i in range(3)])
    assert batched.shape == (3,)
    torch.testing.assert_close(batched, singles, rtol=1e-5, atol=1e-6)
    perfect = -1.0 if name == "original" else 0.0  # the original recipe is a negative cosine similarity
    torch.testing.assert_close(loss(target, target), torch.full((3,), perfect), rtol=0, atol=1e-5)


@pytest.mark.parametrize(("sample_rate", "n_fft"), [(11025, 256), (16000, 512), (44100, 1024)])
def test_sample_rates(sample_rate, n_fft):
    loss = PerceptualLoss(sample_rate=sample_rate, masking=True)
    assert loss.config.n_fft == n_fft and loss.config.hop_length == n_fft // 4
    assert loss.bank.center_hz[-1] == pytest.approx(sample_rate / 2)
    target = tone(1000.0, sample_rate=sample_rate, seconds=0.25, amplitude=0.5)[None]
    power = loss.band_power(target)[0, :, 4:-4].mean(-1)
    assert abs(float(loss.bank.center_hz[int(power.argmax())]) - 1000.0) < 0.3 * LF.critical_bandwidth(1000.0)
    assert 0.2 < float(power.max()) <= 0.26
    value = loss(0.9 * target, target)
    assert torch.isfinite(value) and value > 0 and float(loss(target, target)) == 0.0


# --- bad input -----------------------------------------------------------------------------------------------


def test_bad_input_gives_clear_errors():
    with pytest.raises(ConfigError, match="unknown perceptual loss preset 'nope'"):
        perceptual_loss("nope", sample_rate=SR)
    with pytest.raises(ConfigError, match="sample_rate/2"):
        PerceptualLoss(sample_rate=30)
    with pytest.raises(ConfigError, match="too few"):
        PerceptualLoss(sample_rate=60, f_min=20.0, bands_per_bark=1.0)
    with pytest.raises(ConfigError, match="too low for the original recipe"):
        OriginalPerceptualLoss(sample_rate=600)
    with pytest.raises(ConfigError, match="unknown comparison"):
        PerceptualLoss(sample_rate=SR, comparison="l3")
    with pytest.raises(ConfigError, match="unknown PerceptualLoss option"):
        PerceptualLoss(sample_rate=SR, bark_bands=3)
    loss = PerceptualLoss(sample_rate=SR)
    with pytest.raises(ConfigError, match="shapes differ"):
        loss(torch.zeros(2, 1000), torch.zeros(2, 999))
    with pytest.raises(ConfigError, match="expected waveforms"):
        loss(torch.zeros(2, 2, 2, 100), torch.zeros(2, 2, 2, 100))
    with pytest.raises(ConfigError, match="shapes differ"):
        OriginalPerceptualLoss(sample_rate=11025).fixed_target(torch.zeros(1, 800))(torch.zeros(1, 801))
    assert set(PRESETS) == {"ours", "ours_masking", "original"}


# --- the original recipe -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def original() -> OriginalPerceptualLoss:
    return OriginalPerceptualLoss(sample_rate=11025)


def test_original_filters_are_zounds_fir_filter_bank(original):
    center, erb = LF.original_centers(sample_rate=11025)
    assert len(center) == 512 and center[0] == pytest.approx(20.0) and center[-1] == pytest.approx(5212.5)
    nyquist = 11025 / 2
    for i in (0, 200, 511):
        lo, hi = max(0.0, center[i] - erb[i] / 2), min(nyquist, center[i] + erb[i] / 2)
        ref = firwin2(512, [0, *np.linspace(lo / nyquist, hi / nyquist, 100), 1], [0, *gaussian(100, 3), 0])
        np.testing.assert_allclose(original.filters[i].numpy(), ref, atol=1e-7)
    # zounds' A-weighting is the standard curve: 1 kHz is 0 dB, 100 Hz is -19.1 dB.
    w = LF.original_a_weighting(np.array([100.0, 1000.0, 20.0]))
    assert w[1] - w[0] == pytest.approx(19.1, abs=0.1) and w[2] == 1.0


def test_original_fft_correlation_is_conv1d(original):
    wave = torch.randn(2, 1500)
    ref = torch.nn.functional.conv1d(wave[:, None], original.filters[:, None], padding=512)
    torch.testing.assert_close(LF.fft_correlate(wave, original.filters, padding=512), ref, atol=1e-5, rtol=0)


def test_original_recipe_known_faults(original):
    """Peak gains 0.0039 at 100 Hz to 0.74 at 5 kHz; every filter 28-39 Hz wide at -3 dB whatever its ERB."""
    center = original.center_hz
    response = np.abs(np.fft.rfft(original.filters.double().numpy(), n=1 << 15, axis=1))
    freqs = np.fft.rfftfreq(1 << 15, 1 / 11025)
    peak = response.max(1)
    at = {hz: int(np.argmin(np.abs(center - hz))) for hz in (100, 1000, 5000)}
    assert peak[at[100]] == pytest.approx(0.0039, abs=0.0005)
    assert peak[at[1000]] == pytest.approx(0.25, abs=0.01)
    assert peak[at[5000]] == pytest.approx(0.743, abs=0.005)
    assert peak[center < 1000].max() < 0.3
    widths = [np.ptp(freqs[response[i] >= peak[i] / math.sqrt(2)]) for i in range(40, 512, 40)]
    assert min(widths) > 26 and max(widths) < 40
    assert (0.108 * center[-1] + 24.7) > 500  # the ERB these filters were meant to have at the top


def test_original_hand_written_backward_equals_autograd(original, notes):
    target = notes[:2, :3000]
    pred = (0.7 * torch.roll(target, 5, -1) + 0.01 * torch.randn_like(target)).requires_grad_()
    original.reduction = "none"
    ours = original(pred, target)
    (grad,) = torch.autograd.grad(ours.sum(), pred)
    features = original.features(pred).flatten(1).double()  # autograd through the plain ops, sums in float64
    target_features = original.features(target).flatten(1).double()
    ref = -(features * target_features).sum(1) / (features.norm(dim=1) * target_features.norm(dim=1))
    (ref_grad,) = torch.autograd.grad(ref.sum(), pred)
    original.reduction = "mean"
    torch.testing.assert_close(ours.double(), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, ref_grad.float(), rtol=1e-3, atol=1e-4 * float(ref_grad.abs().max()))

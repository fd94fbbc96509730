"""Edit measures: pYIN pitch of known tones, region level against Parseval, edge flux of level steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectrolab.edit.measures import HOP, N_FFT, edge_flux_db, median_midi, region_level_db
from spectrolab.edit.region import Region

SR = 16000
SECONDS = np.arange(2 * SR) / SR


def harmonic(midi: float, *, amplitude: float = 0.3) -> np.ndarray:
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(amplitude / k * np.sin(2 * np.pi * k * f0 * SECONDS) for k in (1, 2, 3))


@pytest.mark.parametrize("midi", [40.0, 57.3, 81.0])
def test_median_midi_of_a_harmonic_tone(midi):
    assert median_midi(harmonic(midi), sample_rate=SR, start_s=0.5, stop_s=1.5) == pytest.approx(midi, abs=0.1)


def test_noise_has_no_pitch():
    noise = np.random.default_rng(0).normal(scale=0.1, size=SECONDS.shape)
    assert median_midi(noise, sample_rate=SR, start_s=0.5, stop_s=1.5) is None


def test_region_level_follows_parseval():
    """A sine of amplitude A: a Hann-windowed frame holds sum((A w sin)^2) = 3 N A^2 / 16 (window energy 3N/8),
    so by Parseval its positive-frequency bins hold N * 3 N A^2 / 32, all in a band around its main lobe."""
    amplitude = 0.25
    wave = amplitude * np.sin(2 * np.pi * 1000.0 * SECONDS)
    band = Region(start_s=0.5, stop_s=1.5, low_hz=800.0, high_hz=1200.0)
    hz = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    bins = int(((hz >= 800.0) & (hz < 1200.0)).sum())
    expected = 10 * math.log10(3 * N_FFT**2 * amplitude**2 / 32 / bins)
    assert region_level_db(wave, band, sample_rate=SR) == pytest.approx(expected, abs=0.05)
    louder = region_level_db(2 * wave, band, sample_rate=SR) - region_level_db(wave, band, sample_rate=SR)
    assert louder == pytest.approx(20 * math.log10(2), abs=1e-6)


def test_edge_flux_grows_with_a_level_step_at_the_edge():
    region = Region(start_s=1.0, stop_s=1.5, low_hz=980.0, high_hz=1020.0)  # the main lobe's bins
    tone = 0.25 * np.sin(2 * np.pi * 1000.0 * SECONDS)
    # 0 inside [1.0, 1.5] s, rising and falling over 40 ms either side (the editor's feather)
    ramp = np.clip(np.minimum(SECONDS - 0.96, 1.54 - SECONDS) / 0.04, 0.0, 1.0)

    def stepped(db: float) -> np.ndarray:
        return tone * 10 ** (db * ramp / 20)

    steady = edge_flux_db(tone, region, sample_rate=SR)
    six, twelve = (edge_flux_db(stepped(db), region, sample_rate=SR) for db in (6.0, 12.0))
    assert steady < 0.01 and twelve > 1.0
    assert six / twelve == pytest.approx(0.5, abs=0.03)  # flux in dB is linear in a smooth step's size
    assert HOP / SR < 0.04  # several frames fall within the edges' 40 ms

"""The perceptual-loss experiment: its sounds, generator and metrics, and a tiny run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spectrolab import metrics
from spectrolab.cli.main import main
from spectrolab.errors import ConfigError
from spectrolab.experiments.perceptual_loss import (
    ExperimentConfig,
    Generator,
    gain_matched,
    measure,
    upsampling_factors,
)
from spectrolab.experiments.sounds import SOUNDS, make_sound

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sounds_are_made_here_normalised_and_not_silent():
    for name in SOUNDS:
        wave = make_sound(name, sample_rate=11025, num_samples=8192)
        assert wave.shape == (8192,) and wave.dtype == np.float32
        assert np.abs(wave).max() == pytest.approx(1.0) and np.sqrt(np.mean(wave**2)) > 0.05
        assert wave[0] == 0 and wave[-1] == 0  # faded in and out
    with pytest.raises(ConfigError, match="unknown sound"):
        make_sound("cello", sample_rate=11025, num_samples=8192)


def test_generator_is_the_original_architecture():
    assert upsampling_factors(8192, 7) == [4, 4, 4, 4, 4, 4, 2]
    generator = Generator(num_samples=8192, latent_size=128, channels=32, layers=7, kernel_size=7)
    convs = list(generator.convs)
    assert len(convs) == 7 and all(c.bias is None for c in convs)
    assert [c.in_channels for c in convs] == [128, 32, 32, 32, 32, 32, 32] and convs[-1].out_channels == 1
    assert generator(torch.randn(1, 128, 1)).shape == (1, 8192)
    with pytest.raises(ConfigError, match="power of two"):
        upsampling_factors(8000, 7)


def test_metrics_are_gain_matched_and_band_lsd_covers_the_full_lsd(notes):
    ref = notes[0, :8192]
    est = ref + 0.05 * torch.randn_like(ref)
    plain, scaled = (measure(ref, e, sample_rate=16000, speech=False) for e in (est, 3.0 * est))
    assert plain == pytest.approx(scaled, rel=1e-5)
    assert gain_matched(3.0 * est, ref).square().mean() == pytest.approx(float(ref.square().mean()), rel=1e-5)
    full = metrics.band_log_spectral_distance(ref, est, sample_rate=16000, low_hz=0.0, high_hz=1e9)
    torch.testing.assert_close(full, metrics.log_spectral_distance(ref, est))


def test_tiny_experiment_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "pl"
    args = ["experiment", "perceptual-loss", "--out", str(out), "--seeds", "1", "--iterations", "2"]
    args += ["--checkpoint-every", "1", "--sounds", "speech"]
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    assert len(result["checkpoints"]) == 4 * 2  # four losses, two checkpoints
    assert {c["loss"] for c in result["checkpoints"]} == {"mse", "original", "ours", "ours_masking"}
    assert all(np.isfinite(list(c["metrics"].values())).all() and "stoi" in c["metrics"] for c in result["checkpoints"])
    text = (out / "results.md").read_text()
    assert "| ours + masking | 2 |" in text and "against MSE" in text and "STOI" in text
    assert (out / "spectrograms.png").stat().st_size > 0 and (out / "curves.png").stat().st_size > 0
    assert (out / "audio" / "speech" / "original_seed0_it2.wav").exists()
    assert main(args) == 2  # refuses to overwrite without --force
    assert "exists already" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown loss"):
        ExperimentConfig(losses=("l1",))

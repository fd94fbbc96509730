"""The codec trainer's perceptual-loss option: the loss term, its gradients, and a few-step training run."""

from __future__ import annotations

import pytest
import torch

from spectrolab.cli.main import main
from spectrolab.codec import load_codec
from spectrolab.data.nsynth_render import RenderConfig, render_nsynth
from spectrolab.data.soundfont import TEST_SOUNDFONT
from spectrolab.errors import ConfigError
from spectrolab.losses import perceptual_loss
from spectrolab.models import create_model
from spectrolab.models.registry import read_config
from spectrolab.training.codec import CodecModule, codec_losses

pytestmark = pytest.mark.usefixtures("one_thread")


def test_perceptual_term_trains_the_decoder(notes):
    codec = create_model("vqvae_default").train()
    heard = perceptual_loss("ours", sample_rate=codec.sample_rate)
    losses, _ = codec_losses(codec, notes[:2, :15872], audio_weight=0.0, perceptual_weight=1.0, perceptual=heard)
    assert torch.isfinite(losses.perceptual) and losses.perceptual > 0
    assert losses.total >= losses.perceptual
    losses.perceptual.backward()
    assert codec.get_parameter("decoder.0.weight").grad.abs().sum() > 0
    plain, _ = codec_losses(codec, notes[:2, :15872], audio_weight=0.0)
    assert plain.perceptual == 0
    with pytest.raises(ConfigError, match="needs a perceptual loss"):
        codec_losses(codec, notes[:2, :15872], perceptual_weight=1.0)


def test_checkpoints_do_not_hold_the_loss_buffers():
    module = CodecModule("vqvae_default", perceptual_weight=0.5)
    assert module.perceptual is not None
    assert not any(key.startswith("perceptual") for key in module.state_dict())


def test_train_codec_with_perceptual_weight(tmp_path):
    config = RenderConfig(soundfont=TEST_SOUNDFONT, programs=(0, 1, 2, 24, 25, 26), pitches=(60,), velocities=(100,))
    render_nsynth(config, tmp_path / "data")
    args = ["train", "codec", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--batch-size", "2"]
    args += ["--max-steps", "2", "--val-every", "2", "--perceptual-weight", "0.5", "--train-notes", "4"]
    assert main(args) == 0
    metadata = read_config(tmp_path / "run" / "model").get("metadata", {})
    assert metadata["train_config"]["perceptual_weight"] == 0.5
    assert load_codec(tmp_path / "run" / "model").grid_shapes(64000)

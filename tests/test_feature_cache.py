"""The memory-mapped log-mel cache: its numbers equal the front end's, mel taggers give the same logits on
cached features as on waveforms, a mismatched cache is refused, and training on it matches inference."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from test_tagging_train import _nsynth_fixture

from spectrolab.audio import io
from spectrolab.cli.main import main
from spectrolab.data.feature_cache import Augment, CachedFeatures, augment_logmel, feature_cache
from spectrolab.data.tracks import TrackSet, load_tracks
from spectrolab.errors import ConfigError, DataError
from spectrolab.models import create_model, list_models
from spectrolab.models.tagging import MelFrontEnd
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.predict import load_tagger
from spectrolab.training.tagging import TaggerModule, TrainConfig, balanced_weights, train_tagger

LENGTH = 64000  # one whole fixture note


@pytest.fixture(scope="module")
def nsynth(tmp_path_factory, notes):
    root = tmp_path_factory.mktemp("nsynth")
    _nsynth_fixture(root, notes)
    return root


def _model(**kw):
    return create_model("short_chunk_resnet", num_classes=11, input_length=LENGTH, n_channels=4, **kw).eval()


def test_cached_features_equal_the_front_end_within_float16_rounding(nsynth, tmp_path):
    tracks = load_tracks(nsynth, "valid")
    logmel = _model().frontend.logmel
    cache = feature_cache(tmp_path, tracks, split="valid", logmel=logmel, length=LENGTH)
    assert cache.features.dtype == np.float16 and isinstance(cache.features, np.memmap)
    waves = torch.stack([io.load(f, sample_rate=16000)[0] for f in tracks.files])
    exact = logmel(waves)[:, 0].numpy()
    assert cache.features.shape == exact.shape == (5, 128, 251)
    # float16 keeps 11 significant bits: relative error at most 2**-11
    np.testing.assert_allclose(cache.features, exact, rtol=2**-11, atol=1e-6)
    items = CachedFeatures(cache)
    spec, target = items[3]
    assert spec.shape == (1, 128, 251) and spec.dtype == torch.float32 and target == tracks.targets[3]
    # Opening it again reads the same file, not a rebuilt one.
    mtime = cache.path.stat().st_mtime_ns
    assert feature_cache(tmp_path, tracks, split="valid", logmel=logmel, length=LENGTH).path.stat().st_mtime_ns == mtime


def test_a_cache_built_otherwise_is_refused_naming_the_difference(nsynth, tmp_path):
    tracks = load_tracks(nsynth, "valid")
    feature_cache(tmp_path, tracks, split="valid", logmel=_model().frontend.logmel, length=LENGTH)
    other_style = _model(mel_style="torchaudio").frontend.logmel
    with pytest.raises(DataError, match=r"valid.json: the cache was built with logmel=.*give another cache folder"):
        feature_cache(tmp_path, tracks, split="valid", logmel=other_style, length=LENGTH)
    with pytest.raises(DataError, match="built with length=64000, this run needs 32000"):
        feature_cache(tmp_path, tracks, split="valid", logmel=_model().frontend.logmel, length=32000)
    fewer = tracks.spread(3)
    with pytest.raises(DataError, match="built with tracks=5, this run needs 3"):
        feature_cache(tmp_path, fewer, split="valid", logmel=_model().frontend.logmel, length=LENGTH)
    (tmp_path / "valid.json").unlink()  # an unfinished cache (no metadata) is rebuilt
    feature_cache(tmp_path, fewer, split="valid", logmel=_model().frontend.logmel, length=LENGTH)
    assert json.loads((tmp_path / "valid.json").read_text())["tracks"] == 3


def _mel_models() -> list[str]:
    return [n for n in list_models("tagging") if not n.startswith("test/")]


@pytest.mark.parametrize("name", _mel_models())
def test_every_mel_tagger_gives_the_same_logits_on_log_mel_features(name, one_thread):
    model = create_model(name, num_classes=3)
    if not isinstance(getattr(model, "frontend", None), MelFrontEnd):
        assert not isinstance(model, MelTaggingModel)  # its own front end: no cached features
        return
    assert isinstance(model, MelTaggingModel)
    with torch.no_grad():  # non-trivial batch-norm statistics, so that the front end's affine matters
        model.frontend.bn.weight.fill_(0.7)
        model.frontend.bn.bias.fill_(-0.3)
        model.frontend.bn.running_mean.fill_(-40.0)
        model.frontend.bn.running_var.fill_(300.0)
    model.eval()
    wave = torch.randn(2, model.input_length) * 0.1
    with torch.no_grad():
        logmel = model.frontend.logmel(wave)
        rounded = logmel.half().float()  # what the cache stores
        torch.testing.assert_close(model.forward_features(logmel), model(wave))
        torch.testing.assert_close(model.forward_features(rounded), model(wave), rtol=1e-2, atol=1e-3)


def test_augmentations_by_hand():
    spec = torch.arange(2 * 6, dtype=torch.float32).view(1, 2, 6) - 50.0
    torch.manual_seed(1)
    gained = augment_logmel(spec, Augment(gain_db=6.0))
    shift = gained - spec
    assert float(shift.abs().max()) <= 6.0 and torch.allclose(shift, shift.flatten()[0].expand_as(shift))
    shifted = augment_logmel(spec, Augment(max_shift=100))  # capped at N - 1 frames
    first = int((shifted[0, 0] == spec.min()).sum())
    assert torch.equal(shifted[..., first:], spec[..., : 6 - first])
    masked = augment_logmel(spec, Augment(freq_mask=2))
    assert torch.equal(masked, spec) or bool((masked == spec.mean()).any())
    with pytest.raises(ConfigError, match=">= 0"):
        Augment(time_mask=-1)
    with pytest.raises(ConfigError, match=">= 0"):
        Augment(eq_db=-1.0)


def test_random_equaliser_is_three_broad_cosines_drawn_after_the_other_augmentations():
    spec = torch.randn(1, 64, 20) - 40.0
    plain = Augment(gain_db=3.0, max_shift=4, freq_mask=8, time_mask=5)
    torch.manual_seed(3)
    without = augment_logmel(spec, plain)
    amplitudes = (torch.rand(3) * 2 - 1) * 6.0 / 3  # the draw that follows the other four
    torch.manual_seed(3)
    with_eq = augment_logmel(spec, Augment(**{**asdict(plain), "eq_db": 6.0}))
    curve = with_eq - without  # the other draws are unchanged, so the difference is the equaliser alone
    m = torch.arange(64, dtype=torch.float32) + 0.5
    expected = sum(amplitudes[k - 1] * torch.cos(torch.pi * k * m / 64) for k in (1, 2, 3))
    torch.testing.assert_close(curve, expected[None, :, None].expand_as(curve), rtol=0, atol=1e-4)
    assert float(curve.abs().max()) <= 6.0
    # broad: the curve changes by well under its size from one band to the next
    assert float(expected.diff().abs().max()) < 0.25 * 6.0


def test_training_on_the_cache_validates_as_inference_on_waveforms(nsynth, tmp_path, one_thread):
    config = TrainConfig(
        model="short_chunk_resnet",
        model_args={"input_length": LENGTH, "n_channels": 4},
        data=str(nsynth),
        out=str(tmp_path / "run"),
        batch_size=2,
        max_epochs=2,
        progress=False,
        feature_cache=str(tmp_path / "cache"),
        augment=Augment(gain_db=3.0, max_shift=4),
        balance=True,
    )
    result = train_tagger(config)
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert cached == ["train.json", "train.npy", "valid.json", "valid.npy"]
    tagger = load_tagger(result.model_dir)
    accuracy = evaluate_tagger(tagger, load_tracks(nsynth, "valid")).accuracy
    assert accuracy == pytest.approx(result.best_score, abs=1e-6)
    saved = json.loads((result.model_dir / "config.json").read_text())["metadata"]["train"]
    assert saved["feature_cache"] == str(tmp_path / "cache") and saved["augment"]["max_shift"] == 4


def test_waveform_batches_are_augmented_per_item_on_the_front_ends_log_mel():
    augment = Augment(gain_db=6.0, max_shift=5, freq_mask=8, time_mask=20)
    module = TaggerModule(
        "short_chunk_resnet",
        labels=list("abc"),
        multilabel=True,
        model_args={"input_length": 16000, "n_channels": 4},
        augment={"gain_db": 6.0, "max_shift": 5, "freq_mask": 8, "time_mask": 20},
    ).eval()
    wave = torch.randn(3, 16000)
    torch.manual_seed(7)
    logits = module._training_logits(wave)
    torch.manual_seed(7)
    model = module.model
    spec = model.frontend.logmel(model.waveform(wave))
    augmented = torch.stack([augment_logmel(s, augment) for s in spec])
    assert torch.allclose(logits, model.forward_features(augmented), atol=1e-6)
    changed = (augmented - spec).abs().flatten(1).amax(dim=1)
    assert bool((changed > 0.5).all()) and len(set(changed.tolist())) == 3  # every item, its own draw
    args = module.hparams["model_args"]
    plain = TaggerModule("short_chunk_resnet", labels=list("abc"), multilabel=True, model_args=args)
    plain.load_state_dict(module.state_dict())
    assert torch.equal(plain.eval()._training_logits(wave), module(wave))


def test_feature_cache_refuses_a_model_without_a_mel_front_end(nsynth, tmp_path, capsys):
    argv = ["train", "tagger", "--model", "sample_cnn", "--data", str(nsynth), "--out", str(tmp_path / "run")]
    assert main([*argv, "--feature-cache", str(tmp_path / "cache"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--feature-cache: sample_cnn has no mel front end" in err and len(err.strip().splitlines()) == 1
    assert main([*argv, "--aug-gain-db", "3", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "augmentations (gain, shift, masks): sample_cnn has no mel front end" in err
    assert len(err.strip().splitlines()) == 1


def test_balanced_weights_give_every_class_the_same_total_weight():
    tracks = TrackSet([f"{i}.wav" for i in range(7)], torch.tensor([0, 0, 0, 0, 1, 1, 2]), ["a", "b", "c"], False, "x")
    weights = torch.tensor(balanced_weights(tracks), dtype=torch.float64)
    totals = weights * torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(totals, torch.full((3,), 7 / 3, dtype=torch.float64))
    absent = TrackSet(["a.wav", "b.wav", "c.wav"], torch.tensor([0, 1, 1]), ["a", "b", "c"], False, "x")
    assert balanced_weights(absent) == [1.5, 0.75, 0.0]

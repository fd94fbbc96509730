"""Taggers: registry-wide shapes/NaN/gradients, reference parameter counts, front ends, timm weight adaptation."""

from __future__ import annotations

import math

import huggingface_hub.constants
import librosa
import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.layers import resample_abs_pos_embed

from spectrolab.errors import ConfigError, ModelError
from spectrolab.models import count_parameters, create_model, list_models, load_model_dir, save_model_dir
from spectrolab.models.tagging.harmonic import harmonic_center_frequencies, harmonic_filterbank

NUM_CLASSES = 7
TAGGERS = [n for n in list_models(task="tagging") if not n.startswith("test/")]  # other files register test models


def chunk(notes: torch.Tensor, length: int, batch: int = 2) -> torch.Tensor:
    """(batch, length) of real notes played one after another, each row starting at a different note."""
    stream = notes.reshape(-1)
    reps = math.ceil((length + notes.shape[1] * batch) / stream.numel())
    stream = stream.repeat(reps)
    return torch.stack([stream[i * notes.shape[1] : i * notes.shape[1] + length] for i in range(batch)])


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_registry_lists_every_family():
    expected = {
        "fcn",
        "musicnn",
        "crnn",
        "sample_cnn",
        "sample_cnn_se",
        "short_chunk_cnn",
        "short_chunk_resnet",
        "harmonic_cnn",
        "cnnsa",
        "music_tagging_transformer",
        "timm/vit_small_patch16_224",
        "timm/deit_tiny_distilled_patch16_224",
        "timm/convnext_atto",
    }
    assert expected <= set(TAGGERS)


@pytest.mark.parametrize("name", TAGGERS)
def test_forward_shapes_and_every_parameter_gets_a_gradient(name, notes):
    model = create_model(name, num_classes=NUM_CLASSES)
    assert model.num_classes == NUM_CLASSES
    wave = chunk(notes, model.input_length)
    model.train()
    logits = model(wave)
    assert logits.shape == (2, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    targets = torch.zeros_like(logits)
    targets[:, 0] = 1
    torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"{name}: parameters without a finite gradient: {missing}"
    print(f"{name}: {count_parameters(model):,} parameters, {model.input_length} samples at {model.sample_rate} Hz")


@pytest.mark.parametrize("name", TAGGERS)
def test_batched_equals_one_by_one(name, notes):
    model = create_model(name, num_classes=NUM_CLASSES).eval()
    wave = chunk(notes, model.input_length)
    with torch.no_grad():
        batched = model(wave)
        single = torch.cat([model(w[None]) for w in wave])
    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-4)


# Parameter counts of minzwon/sota-music-tagging-models (training/model.py, modules.py) and
# minzwon/semi-supervised-music-tagging-transformer (src/models.py, modules.py) for 50 classes, computed by
# hand from the layer definitions there.
def conv(i: int, o: int, k: int | tuple[int, int] = 3, *, dims: int = 2) -> int:
    kh, kw = (k, k) if isinstance(k, int) else k
    return i * o * (kh * kw if dims == 2 else kh) + o


def bn(c: int) -> int:
    return 2 * c


def linear(i: int, o: int, *, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def conv_block(i: int, o: int) -> int:  # Conv_2d
    return conv(i, o) + bn(o)


def res_block(i: int, o: int) -> int:  # Res_2d with stride != 1: conv_1, conv_2 and the conv_3 shortcut
    return 2 * (conv(i, o) + bn(o)) + conv(o, o) + bn(o)


def res_pool_block(i: int, o: int) -> int:  # Res_2d_mp / Res2DMaxPoolModule
    return conv(i, o) + bn(o) + conv(o, o) + bn(o) + (conv(i, o) + bn(o) if i != o else 0)


def conv_1d(i: int, o: int, k: int) -> int:  # Conv_1d
    return conv(i, o, k, dims=1) + bn(o)


def res_se_1d(i: int, o: int, k: int, stride: int) -> int:  # ResSE_1d
    shortcut = conv(i, o, k, dims=1) + bn(o) if stride != 1 or i != o else 0
    return 2 * bn(o) + conv(i, o, k, dims=1) + conv(o, o, k, dims=1) + 2 * linear(o, o) + shortcut


def dense_head(i: int, h: int, n: int) -> int:  # dense1 -> bn -> dense2
    return linear(i, h) + bn(h) + linear(h, n)


def bert_layer(d: int, ff: int) -> int:  # query/key/value, self-output dense + LN, intermediate, output + LN
    return 4 * linear(d, d) + linear(d, ff) + linear(ff, d) + 2 * bn(d)


def vit_layer(d: int, ff: int) -> int:  # PreNorm(Attention: to_qkv without bias, to_out), PreNorm(FeedForward)
    return bn(d) + linear(d, 3 * d, bias=False) + linear(d, d) + bn(d) + linear(d, ff) + linear(ff, d)


N = 50
SAMPLE_LAYERS = [(1, 128, 3, 3)] + [(128, 128, 3, 1)] * 2 + [(128, 256, 3, 1)] + [(256, 256, 3, 1)] * 5
SAMPLE_LAYERS += [(256, 512, 3, 1), (512, 512, 1, 1)]
SHORT = [(1, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 256), (256, 512)]
SA = [(1, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 256), (256, 256)]
REFERENCE_COUNTS = {
    "fcn": bn(1)
    + sum(conv_block(i, o) for i, o in [(1, 64), (64, 128), (128, 128), (128, 128), (128, 64)])
    + linear(64, N),
    "crnn": bn(1)
    + sum(conv_block(i, o) for i, o in [(1, 64), (64, 128), (128, 128), (128, 128)])
    + 3 * (32 * 128 + 32 * 32 + 2 * 32)  # GRU layer 1: W_ih, W_hh, b_ih, b_hh for 3 gates
    + 3 * (32 * 32 + 32 * 32 + 2 * 32)  # GRU layer 2
    + linear(32, N),
    "musicnn": bn(1)
    + sum(conv(1, 204, (h, 7)) + bn(204) for h in (int(0.7 * 96), int(0.4 * 96)))
    + sum(conv(1, 51, k, dims=1) + bn(51) for k in (129, 65, 33))
    + conv_1d(561, 64, 7)
    + 2 * conv_1d(64, 64, 7)
    + dense_head((561 + 3 * 64) * 2, 200, N),
    "sample_cnn": sum(conv_1d(i, o, k) for i, o, k, _ in SAMPLE_LAYERS) + linear(512, N),
    "sample_cnn_se": sum(res_se_1d(*layer) for layer in SAMPLE_LAYERS) + dense_head(512, 512, N),
    "short_chunk_cnn": bn(1) + sum(conv_block(i, o) for i, o in SHORT) + dense_head(512, 512, N),
    "short_chunk_resnet": bn(1) + sum(res_block(i, o) for i, o in SHORT) + dense_head(512, 512, N),
    "harmonic_cnn": 1  # bw_Q
    + bn(6)
    + conv_block(6, 128)
    + 3 * res_pool_block(128, 128)
    + conv_block(128, 256)
    + 2 * res_pool_block(256, 256)
    + dense_head(256, 256, N),
    "cnnsa": bn(1)
    + sum(res_block(i, o) for i, o in SA)
    + 2 * bert_layer(256, 1024)
    + linear(256, 256)
    + linear(256, N),
    "music_tagging_transformer": bn(1)
    + res_pool_block(1, 128)
    + 2 * res_pool_block(128, 128)
    + linear(128 // 8 * 128, 256)
    + 513 * 256  # pos_embedding
    + 256  # cls_token
    + 4 * vit_layer(256, 1024)
    + bn(256)
    + linear(256, N),
}
# The reference CNNSA's [CLS] is a fixed random vector and it adds no positions; ours trains both.
ADDED = {"cnnsa": 256 + 700 * 256 + bn(256)}


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
def test_parameter_count_matches_reference_code(name):
    count = count_parameters(create_model(name, num_classes=N))
    print(f"{name}: {count:,} parameters (reference {REFERENCE_COUNTS[name]:,} + {ADDED.get(name, 0):,} added)")
    assert count == REFERENCE_COUNTS[name] + ADDED.get(name, 0)


def test_reference_counts_agree_with_the_paper():
    # Won et al. 2020 quote 3.7M parameters for the Short-chunk CNN.
    assert round(REFERENCE_COUNTS["short_chunk_cnn"] / 1e6, 1) == 3.7


@pytest.mark.parametrize(
    ("name", "input_length", "n_mels", "frames"),
    [
        ("fcn", 464000, 96, 1813),
        ("crnn", 464000, 96, 1813),
        ("musicnn", 48000, 96, 188),
        ("short_chunk_cnn", 59049, 128, 231),
        ("short_chunk_resnet", 59049, 128, 231),
        ("cnnsa", 240000, 128, 938),
        ("music_tagging_transformer", 220500, 128, 431),
    ],
)
def test_published_input_configuration(name, input_length, n_mels, frames, notes):
    model = create_model(name)
    assert model.input_length == input_length
    spec = model.frontend(chunk(notes, input_length, batch=1))
    assert spec.shape == (1, 1, n_mels, frames)


def test_published_sample_level_and_harmonic_lengths():
    assert create_model("sample_cnn").input_length == 3**10
    assert create_model("sample_cnn_se").input_length == 3**10
    assert create_model("harmonic_cnn").input_length == 5 * 16000
    assert create_model("music_tagging_transformer").sample_rate == 22050


def test_harmonic_center_frequencies():
    centers = harmonic_center_frequencies(sample_rate=16000, n_harmonic=6, semitone_scale=2)
    # C1 (MIDI 24) up to E6 (MIDI 88, nearest note to 16000 / 12 Hz) in half semitones: 128 bands per harmonic.
    assert centers.shape == (6 * 128,)
    np.testing.assert_allclose(centers[0], 440 * 2 ** ((24 - 69) / 12), rtol=1e-5)
    np.testing.assert_allclose(centers[1] / centers[0], 2 ** (1 / 24), rtol=1e-5)
    np.testing.assert_allclose(centers[127], 440 * 2 ** ((87.5 - 69) / 12), rtol=1e-5)
    np.testing.assert_allclose(centers[128 * 5 : 128 * 6], 6 * centers[:128], rtol=1e-5)


def test_harmonic_filterbank_is_a_triangle_of_erb_width():
    freqs = torch.tensor([400.0, 440.0, 450.0, 480.0, 500.0])
    q = torch.tensor([2.0], requires_grad=True)
    fb = harmonic_filterbank(freqs, torch.tensor([440.0]), q)[:, 0]
    bandwidth = (0.1079 * 440 + 24.7) / 2  # 36.09 Hz: zero beyond 440 +- 18.05 Hz
    expected = torch.tensor([0.0, 1.0, 1 - 2 * 10 / bandwidth, 0.0, 0.0])
    torch.testing.assert_close(fb.detach(), expected)
    fb.sum().backward()
    assert q.grad is not None and q.grad.item() < 0  # a higher Q narrows the band: less response off centre


def test_harmonic_front_end_shape(notes):
    model = create_model("harmonic_cnn")
    spec = model.frontend(chunk(notes, model.input_length, batch=1))
    assert spec.shape == (1, 6, 128, 313)


def test_attention_sequence_lengths(notes):
    cnnsa = create_model("cnnsa")
    features = cnnsa.layers(cnnsa.frontend(chunk(notes, cnnsa.input_length, batch=1)))
    assert features.shape == (1, 256, 1, 118)
    assert cnnsa.num_tokens(cnnsa.input_length) == 119
    assert cnnsa.num_tokens(16000 * 89) == 697  # 89 s still fits the 700 positions, 90 s does not
    mtt = create_model("music_tagging_transformer")
    assert mtt.conv(mtt.frontend(chunk(notes, mtt.input_length, batch=1))).shape == (1, 128, 16, 107)
    assert mtt.num_tokens(mtt.input_length) == 108


def test_position_embeddings_and_cls_token_are_used(notes):
    model = create_model("cnnsa").eval()
    wave = chunk(notes, 16000 * 3, batch=1)
    with torch.no_grad():
        before = model(wave)
        model.positions.weight[1:].zero_()
        after_positions = model(wave)
        model.cls.add_(torch.randn_like(model.cls))  # not a constant shift, which LayerNorm removes
        after_cls = model(wave)
    assert not torch.allclose(before, after_positions)
    assert not torch.allclose(after_positions, after_cls)


def test_bad_inputs_raise_clear_errors(notes):
    with pytest.raises(ConfigError, match="exactly 464000 samples"):
        create_model("fcn")(notes[:, :16000])
    with pytest.raises(ConfigError, match="at least 73472 samples"):
        create_model("harmonic_cnn")(notes[:, :73471])
    with pytest.raises(ConfigError, match="num_classes"):
        create_model("short_chunk_cnn", num_classes=0)
    with pytest.raises(ConfigError, match="700 position embeddings"):
        create_model("cnnsa").eval()(torch.zeros(1, 16000 * 90))
    with pytest.raises(ConfigError, match="513 position embeddings"):
        create_model("music_tagging_transformer").eval()(torch.zeros(1, 22050 * 48))


@pytest.mark.parametrize("name", ["musicnn", "harmonic_cnn", "cnnsa"])
def test_save_and_load_model_dir_round_trip(name, tmp_path, notes):
    model = create_model(name, num_classes=3).eval()
    with torch.no_grad():  # perturb every parameter (Q included): a fresh build would differ
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_model_dir(model, tmp_path / "m", metadata={"labels": ["a", "b", "c"]})
    loaded = load_model_dir(tmp_path / "m")
    wave = chunk(notes, min(model.input_length, 80000))
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(wave), model(wave))
    assert loaded.metadata["labels"] == ["a", "b", "c"]


def test_timm_adaptation_of_rgb_224_weights_to_one_channel_spectrogram(tmp_path, notes):
    source = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False)  # 3 x 224 x 224, 1000 classes
    state = source.state_dict()
    path = tmp_path / "deit_tiny_rgb.safetensors"
    save_file(state, str(path))
    model = create_model(
        "timm/deit_tiny_distilled_patch16_224", num_classes=5, input_length=16000 * 3, pretrained_file=str(path)
    )
    backbone = model.backbone
    assert model.img_size == (128, 192)  # 188 frames padded to whole 16-frame patches
    torch.testing.assert_close(backbone.patch_embed.proj.weight, state["patch_embed.proj.weight"].sum(1, keepdim=True))
    expected_pos = resample_abs_pos_embed(state["pos_embed"], new_size=[8, 12], num_prefix_tokens=2)
    assert backbone.pos_embed.shape == (1, 2 + 8 * 12, 192) != state["pos_embed"].shape
    torch.testing.assert_close(backbone.pos_embed, expected_pos)
    torch.testing.assert_close(backbone.blocks[3].mlp.fc1.weight, state["blocks.3.mlp.fc1.weight"])
    torch.testing.assert_close(backbone.dist_token, state["dist_token"])
    assert backbone.head.weight.shape == backbone.head_dist.weight.shape == (5, 192)
    model.eval()
    with torch.no_grad():
        spec = torch.nn.functional.pad(model.frontend(chunk(notes, model.input_length)), (0, 4))
        tokens = backbone.forward_features(spec)
        heads = (backbone.head(tokens[:, 0]) + backbone.head_dist(tokens[:, 1])) / 2
        torch.testing.assert_close(model(chunk(notes, model.input_length)), heads)


def test_timm_adaptation_of_cnn_stem_from_pth(tmp_path, notes):
    source = timm.create_model("convnext_atto", pretrained=False)
    state = source.state_dict()
    path = tmp_path / "convnext_atto.pth"
    torch.save(state, path)
    model = create_model("timm/convnext_atto", num_classes=4, pretrained_file=str(path)).eval()
    save_model_dir(model, tmp_path / "finetuned")
    path.unlink()  # the saved model no longer needs the ImageNet file
    loaded = load_model_dir(tmp_path / "finetuned").model
    wave = chunk(notes, model.input_length)
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave), model(wave))
    torch.testing.assert_close(model.backbone.stem[0].weight, state["stem.0.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(
        model.backbone.stages[2].blocks[0].conv_dw.weight, state["stages.2.blocks.0.conv_dw.weight"]
    )
    assert model.backbone.head.fc.weight.shape == (4, 320)


def test_pretrained_without_file_or_network_says_to_pass_a_file(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="pretrained_file"):
        create_model("timm/convnext_atto", pretrained=True)


def test_missing_pretrained_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        create_model("timm/convnext_atto", pretrained_file=str(tmp_path / "missing.safetensors"))


def test_mel_front_end_matches_librosa(notes):
    frontend = create_model("fcn").frontend.eval()  # fresh BatchNorm: (x - 0) / sqrt(1 + eps)
    wave = notes[:1, :32000]
    with torch.no_grad():
        ours = frontend(wave)[0, 0] * math.sqrt(1 + frontend.bn.eps)
    mel = librosa.feature.melspectrogram(
        y=wave[0].double().numpy(),
        sr=16000,
        n_fft=512,
        hop_length=256,
        n_mels=96,
        fmax=8000,
        pad_mode="constant",
    )
    expected = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    audible = expected > expected.max() - 80.0  # float32 rounding shows below that
    np.testing.assert_allclose(ours.numpy()[audible], expected[audible], atol=2e-2)


@pytest.mark.parametrize("name", ["harmonic_cnn", "short_chunk_resnet"])
def test_buffers_follow_the_module_dtype(name, notes):
    model = create_model(name).eval().double()
    with torch.no_grad():
        logits = model(chunk(notes, model.input_length, batch=1).double())
    assert logits.dtype == torch.float64


@pytest.mark.parametrize("training", [True, False])
def test_musicnn_affine_shortcut_equals_the_plain_forward_and_gradients(training, notes):
    wave = chunk(notes, 48000, batch=3).double()
    models = []
    for forward in ("ours", "plain"):
        torch.manual_seed(0)
        model = create_model("musicnn", num_classes=NUM_CLASSES).double().train(training)
        with torch.no_grad():  # a non-trivial input batch norm, as after training
            model.frontend.bn.weight.fill_(0.7)
            model.frontend.bn.bias.fill_(-0.3)
            model.frontend.bn.running_mean.fill_(-40.0)
            model.frontend.bn.running_var.fill_(300.0)
        logits = model(wave) if forward == "ours" else model.forward_plain(wave)
        (logits * torch.linspace(-1, 1, NUM_CLASSES, dtype=torch.float64)).sum().backward()
        models.append((logits, model))
    (ours, a), (plain, b) = models
    torch.testing.assert_close(ours, plain, rtol=1e-9, atol=1e-9)
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-7, atol=1e-9, msg=name)
    for (name, s), t in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(s, t, rtol=1e-9, atol=1e-12, msg=name)  # running statistics updated alike
    assert a.frontend.bn.weight.grad.abs().item() > 0 and a.frontend.bn.bias.grad.abs().item() > 0


MEL_TAGGERS = [n for n in TAGGERS if n not in ("sample_cnn", "sample_cnn_se", "harmonic_cnn")]


@pytest.mark.parametrize("name", MEL_TAGGERS)
def test_torchaudio_mel_style_reaches_every_mel_tagger(name):
    model = create_model(name, num_classes=NUM_CLASSES, mel_style="torchaudio")
    config = model.frontend.logmel.config
    assert (config.htk, config.norm, config.pad_mode) == (True, None, "reflect")
    assert create_model(name, num_classes=NUM_CLASSES).frontend.logmel.config.norm == "slaney"


def test_torchaudio_mel_style_matches_librosa_htk_reflect(notes, tmp_path):
    model = create_model("short_chunk_cnn", num_classes=NUM_CLASSES, mel_style="torchaudio").eval()
    save_model_dir(model, tmp_path / "m")
    frontend = load_model_dir(tmp_path / "m").model.frontend  # the style travels with the weights
    wave = notes[:1, :32000]
    with torch.no_grad():
        ours = frontend(wave)[0, 0] * math.sqrt(1 + frontend.bn.eps)
    mel = librosa.feature.melspectrogram(
        y=wave[0].double().numpy(), sr=16000, n_fft=512, hop_length=256, n_mels=128, fmax=8000,
        pad_mode="reflect", htk=True, norm=None,
    )  # fmt: skip
    expected = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    audible = expected > expected.max() - 80.0
    np.testing.assert_allclose(ours.numpy()[audible], expected[audible], atol=2e-2)
    with pytest.raises(ConfigError, match="mel_style"):
        create_model("fcn", mel_style="essentia")

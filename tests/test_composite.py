"""Edits that change only the selection: the mask, the composite, exact files and the editor end to end."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from spectrolab.audio import io
from spectrolab.cli.main import main
from spectrolab.codec import load_codec
from spectrolab.edit.blur import BlurOptions, resample_cells
from spectrolab.edit.composite import (
    Feather,
    band_gains,
    channel_gains,
    composite,
    composite_span,
    limiting_gain,
    mask_support,
    masked_power,
    matched_level_gain,
    raised_cosine_edge,
    time_gains,
)
from spectrolab.edit.editor import edit_audio, edit_file, edit_windows, inverse_frames, resample_span
from spectrolab.edit.measures import region_level_db
from spectrolab.edit.region import CellRegion, Region
from spectrolab.errors import AudioError, ConfigError
from spectrolab.priors.api import load_prior

pytestmark = pytest.mark.usefixtures("one_thread")

REGION = Region(start_s=1.0, stop_s=2.0, low_hz=200.0, high_hz=4000.0)


@pytest.fixture(scope="module")
def models():
    return load_codec(), load_prior("nb")


def _stereo(note: torch.Tensor, sample_rate: int, seconds: float) -> np.ndarray:
    """(T, 2) float: the note resampled, repeated to ``seconds``, panned left, with noise above 8 kHz."""
    wave = soxr.resample(note.numpy().astype(np.float64), 16000, sample_rate)
    wave = np.resize(wave, int(seconds * sample_rate))
    rng = np.random.default_rng(0)
    hiss = np.fft.irfft(
        np.fft.rfft(rng.standard_normal(len(wave))) * (np.fft.rfftfreq(len(wave), 1 / sample_rate) > 9000)
    )
    both = np.stack([0.8 * wave + 0.02 * hiss, 0.3 * wave + 0.01 * hiss], axis=1)
    return 0.9 * both / np.abs(both).max()


def _changed_frames(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.nonzero((a != b).any(axis=1))[0]


def test_raised_cosine_edges_and_mask_profiles():
    x = np.array([0.0, 1.0, 1.5, 2.0, 3.0])
    assert raised_cosine_edge(x, start=1.0, stop=2.0) == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0], abs=1e-15)
    times = np.array([0.9, 0.96, 0.98, 1.0, 1.5, 2.0, 2.02, 2.05])
    gains = time_gains(REGION, times=times, feather=Feather(seconds=0.04))
    assert gains[0] == 0.0 and gains[-1] == 0.0 and (gains[3:6] == 1.0).all()
    assert gains[2] == pytest.approx(0.5) and gains[6] == pytest.approx(0.5)
    freqs = np.array([100.0, 200 / 2 ** (1 / 12), 200.0, 1000.0, 4000.0, 4000 * 2 ** (1 / 12), 5000.0, 7000.0])
    band = band_gains(REGION, freqs=freqs, feather=Feather(octaves=1 / 6), band_limit_hz=8000.0)
    assert band[0] == 0.0 and band[2:5].tolist() == [1.0, 1.0, 1.0] and band[6:].tolist() == [0.0, 0.0]
    assert band[1] == pytest.approx(0.5) and band[5] == pytest.approx(0.5)
    # A band reaching the edit's limit fades out below it when the original has more above.
    top = Region(1.0, 2.0, 0.0, 8000.0)
    freqs = np.array([0.0, 4000.0, 8000 / 2 ** (1 / 12), 8000.0, 12000.0])
    band = band_gains(top, freqs=freqs, feather=Feather(), band_limit_hz=8000.0)
    assert band[:2].tolist() == [1.0, 1.0] and band[2] == pytest.approx(0.5) and band[3:].tolist() == [0.0, 0.0]
    assert mask_support(top, feather=Feather(), band_limit_hz=8000.0, nyquist=22050.0).high_hz == 8000.0
    with pytest.raises(ConfigError, match="feather"):
        Feather(seconds=0.3)


def test_channel_gains_keep_level_and_image():
    def gains_of(spec: torch.Tensor) -> torch.Tensor:
        weights = torch.ones(5, 7)
        return channel_gains(masked_power(spec, weights), masked_power(spec.mean(0), weights))

    spec = torch.randn(1, 5, 7, dtype=torch.complex128)
    assert torch.equal(gains_of(spec), torch.ones(1, 5, dtype=torch.float64))
    left = torch.randn(5, 7, dtype=torch.complex128)
    gains = gains_of(torch.stack([left, 0.5 * left]))
    assert torch.allclose(gains[0], torch.full((5,), 1 / 0.75, dtype=torch.float64))
    assert torch.allclose(gains[1], torch.full((5,), 0.5 / 0.75, dtype=torch.float64))
    hard = gains_of(torch.stack([left, torch.zeros_like(left)]))
    assert torch.allclose(hard[0], torch.full((5,), 2.0, dtype=torch.float64)) and float(hard[1].max()) < 1e-3


def test_limiting_gain_is_the_largest_that_fits():
    kept = np.array([0.5, -0.5, 0.0, 1.2])
    added = np.array([1.0, -0.1, 0.2, 0.5])
    assert limiting_gain(kept, added, limit=1.0) == pytest.approx(0.5)
    assert limiting_gain(kept[:3] * 0, added[:3], limit=1.0) == 1.0


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
def test_composite_leaves_the_outside_alone_and_replaces_the_inside(sample_rate):
    rng = np.random.default_rng(1)
    length = 3 * sample_rate
    original = 0.1 * rng.standard_normal((2, length))
    edit = 0.1 * rng.standard_normal(length)
    support = mask_support(REGION, feather=Feather(), band_limit_hz=8000.0, nyquist=sample_rate / 2)
    start, stop = composite_span(support, sample_rate=sample_rate, length=length)
    assert start / sample_rate >= REGION.start_s - 0.25 and stop / sample_rate <= REGION.stop_s + 0.25
    out = composite(original[:, start:stop], edit[start:stop], start=start, sample_rate=sample_rate, region=REGION,
                    band_limit_hz=8000.0, match_level=False)  # fmt: skip
    assert out.level_gain == 1.0
    changed = np.nonzero(np.abs(out.wave - original[:, start:stop]).max(0) > 0)[0] + start
    assert changed[0] >= start and changed[-1] < stop
    # Inside the region (away from its edges) each channel holds the edit at the channel's level over the mix's.
    n_fft = 2048 if sample_rate > 16000 else 1024
    middle = slice(int(1.3 * sample_rate) - start, int(1.7 * sample_rate) - start)
    spec = np.abs(np.fft.rfft(out.wave[:, middle], axis=-1)) ** 2
    target = np.abs(np.fft.rfft(edit[start:stop][middle])) ** 2
    freqs = np.fft.rfftfreq(middle.stop - middle.start, 1 / sample_rate)
    inside = (freqs > 400) & (freqs < 3500)
    outside = freqs > 6000
    ratio = spec[:, inside].sum(-1) / target[inside].sum()
    level = (original[:, middle] ** 2).sum(-1) / (original[:, middle].mean(0) ** 2).sum()
    assert np.allclose(ratio, level, rtol=0.2), (ratio, level, n_fft)
    before = np.abs(np.fft.rfft(original[:, start:stop][:, middle], axis=-1)) ** 2
    assert np.allclose(spec[:, outside].sum(-1), before[:, outside].sum(-1), rtol=0.05)


def test_composite_gives_the_edit_the_regions_level():
    sample_rate, rng = 16000, np.random.default_rng(2)
    original = 0.05 * rng.standard_normal((2, 3 * sample_rate))
    edit = 0.2 * rng.standard_normal(3 * sample_rate)  # 12 dB louder than either channel, 15 dB than their mix
    middle = slice(int(1.3 * sample_rate), int(1.7 * sample_rate))

    def region_power(wave: np.ndarray) -> np.ndarray:
        spec = np.abs(np.fft.rfft(wave[:, middle], axis=-1)) ** 2
        freqs = np.fft.rfftfreq(middle.stop - middle.start, 1 / sample_rate)
        return spec[:, (freqs > 400) & (freqs < 3500)].sum(-1)

    kwargs = dict(start=0, sample_rate=sample_rate, region=REGION, band_limit_hz=8000.0)
    matched = composite(original, edit, **kwargs, limit=100.0)
    free = composite(original, edit, **kwargs, limit=100.0, match_level=False)
    assert np.allclose(region_power(matched.wave), region_power(original), rtol=0.3)
    assert np.all(region_power(free.wave) > 20 * region_power(original))
    # the mono mix of two independent channels has half their power: the gain is sqrt(0.05^2 / 2 / 0.2^2)
    assert matched.level_gain == pytest.approx(0.25 / np.sqrt(2), rel=0.1) and free.level_gain == 1.0
    power = torch.ones(4)
    assert matched_level_gain(4 * power, power) == pytest.approx(2.0)  # amplitude: the square root of the powers
    assert matched_level_gain(power, 1e-12 * power) == pytest.approx(10 ** (18 / 20))  # bounded
    assert matched_level_gain(power, 0 * power) == 1.0  # nothing to scale
    assert matched_level_gain(0 * power, power) == 0.0  # a silent original keeps its silence


def test_composite_limits_the_edit_inside_the_region():
    sample_rate, length = 16000, 48000
    t = np.arange(length) / sample_rate
    original = 0.5 * np.sin(2 * np.pi * 440 * t)[None]
    edit = 3.0 * np.sin(2 * np.pi * 1000 * t)
    out = composite(original, edit, start=0, sample_rate=sample_rate, region=REGION, band_limit_hz=8000.0,
                    match_level=False)  # fmt: skip
    assert np.abs(out.wave).max() <= 1.0 and 0.0 < out.edit_gain < 1.0 and out.clamped == 0


def test_resample_span_matches_the_whole_signal():
    rng = np.random.default_rng(2)
    signal = rng.standard_normal(44100 * 3)
    whole = soxr.resample(signal, 44100, 16000, quality="HQ")

    def read(a, b):
        out = np.zeros(b - a)
        lo, hi = max(a, 0), min(b, len(signal))
        out[lo - a : hi - a] = signal[lo:hi]
        return out

    span = resample_span(read, orig_sample_rate=44100, sample_rate=16000, start=12345, stop=20000)
    assert np.abs(span - whole[12345:20000]).max() < 1e-6


@pytest.mark.parametrize(("subtype", "tolerance"), [("PCM_16", 0), ("PCM_24", 0), ("FLOAT", 1e-6)])
@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_edit_file_keeps_rate_channels_format_and_outside_samples(tmp_path, models, notes, subtype, tolerance,
                                                                  sample_rate):  # fmt: skip
    codec, prior = models
    src = tmp_path / "in.wav"
    sf.write(src, _stereo(notes[0], sample_rate, 6.0), sample_rate, subtype=subtype)
    out = tmp_path / "out.wav"
    result = edit_file(src, out, codec=codec, prior=prior, region=REGION)
    before, after = io.read_native(src), io.read_native(out)
    assert (after.sample_rate, after.channels, after.frames, after.subtype) == (sample_rate, 2, before.frames, subtype)
    start, stop = result.samples
    assert start / sample_rate >= REGION.start_s - 0.25 - codec.seconds_per_cell()
    assert stop / sample_rate <= REGION.stop_s + 0.25 + codec.seconds_per_cell()
    outside = np.ones(before.frames, dtype=bool)
    outside[start:stop] = False
    difference = np.abs(after.samples[outside].astype(np.float64) - before.samples[outside].astype(np.float64))
    assert difference.max() <= tolerance
    assert len(_changed_frames(before.samples, after.samples)) > 0
    # Content above the codec's band, inside the region too, is the input's.
    mid = slice(int(1.3 * sample_rate), int(1.7 * sample_rate))
    high = np.fft.rfftfreq(mid.stop - mid.start, 1 / sample_rate) > 10000
    power = [np.abs(np.fft.rfft(a.to_float()[:, mid], axis=-1))[:, high].sum(-1) for a in (before, after)]
    assert np.allclose(power[0], power[1], rtol=0.02)


def test_edit_is_byte_identical_for_every_format(tmp_path, models, notes):
    codec, prior = models
    mono = tmp_path / "mono.wav"
    sf.write(mono, notes[1].numpy(), 16000, subtype="PCM_16")
    for name, subtype in (("a.wav", "FLOAT"), ("b.wav", "PCM_16"), ("c.flac", None), ("d.ogg", None)):
        first, second = tmp_path / f"1{name}", tmp_path / f"2{name}"
        for path in (first, second):
            edit_file(mono, path, codec=codec, prior=prior, region=REGION, subtype=subtype,
                      options=BlurOptions(seed=4))  # fmt: skip
        assert first.read_bytes() == second.read_bytes(), name
        assert sf.info(str(first)).channels == 1 and sf.info(str(first)).samplerate == 16000
    assert sf.info(str(tmp_path / "1c.flac")).subtype == "PCM_16"
    with pytest.raises(AudioError, match="cannot hold subtype"):
        edit_file(mono, tmp_path / "x.flac", codec=codec, prior=prior, region=REGION, subtype="FLOAT")
    assert not (tmp_path / "x.flac").exists()


def test_loud_edit_is_turned_down_inside_the_region_only(tmp_path, models, notes):
    codec, prior = models
    loud = np.clip(notes[2].numpy() * 4.0, -1, 1)
    src = tmp_path / "loud.wav"
    sf.write(src, loud, 16000, subtype="PCM_16")
    result = edit_file(src, tmp_path / "out.wav", codec=codec, prior=prior, region=Region(0.5, 2.5, 0.0, 8000.0),
                       options=BlurOptions(temperature=2.0))  # fmt: skip
    after = io.read_native(tmp_path / "out.wav").samples
    before = io.read_native(src).samples
    start, stop = result.samples
    assert np.array_equal(after[:start], before[:start]) and np.array_equal(after[stop:], before[stop:])
    if result.edit_gain < 1.0:
        assert "lowered by" in (result.gain_note() or "")
    assert np.abs(after.astype(np.int32)).max() <= 32768


def test_regions_at_the_edges_and_the_whole_sound(tmp_path, models, notes):
    codec, prior = models
    audio = io.NativeAudio(np.round(notes[3].numpy()[:, None] * 32767).astype(np.int16), 16000, "WAV", "PCM_16")
    width = codec.grid_shapes(audio.frames)[0][1]
    for cells in (CellRegion(0, 32, 0, 2), CellRegion(4, 20, width - 2, width)):
        result = edit_audio(audio, codec=codec, prior=prior, region=cells)
        assert result.samples[0] >= 0 and result.samples[1] <= audio.frames
        assert result.changed_cells > 0
    everything = CellRegion(0, 32, 0, width)
    options = BlurOptions(seed=2)
    pasted = edit_audio(audio, codec=codec, prior=prior, region=everything, options=options, match_level=False)
    whole = edit_audio(audio, codec=codec, prior=prior, region=everything, options=options, resynthesize=True)
    assert torch.equal(pasted.edited.grids[0], whole.edited.grids[0])
    a, b = pasted.audio.to_float()[0], whole.audio.to_float()[0]
    assert whole.resynthesized and np.abs(a - b).max() <= 2 / 32768
    matched = edit_audio(audio, codec=codec, prior=prior, region=everything, options=options)  # the region's level
    assert matched.level_gain != 1.0 and "original's level" in (matched.gain_note() or "")
    loudness = [float(np.sqrt(np.mean(w.to_float()[0] ** 2))) for w in (audio, matched.audio, pasted.audio)]
    assert abs(20 * np.log10(loudness[1] / loudness[0])) < abs(20 * np.log10(loudness[2] / loudness[0]))


def test_in_place_edit_writes_the_composite_into_the_input_and_equals_the_copy(models, notes):
    codec, prior = models
    stereo = np.stack([notes[2].numpy(), 0.5 * notes[3].numpy()], axis=1)
    audio = io.NativeAudio(np.round(stereo * 32767).astype(np.int16), 16000, "WAV", "PCM_16")
    before = audio.samples.copy()
    region = Region(1.0, 2.0, 200.0, 4000.0)
    copied = edit_audio(audio, codec=codec, prior=prior, region=region)
    assert np.array_equal(audio.samples, before) and copied.audio.samples is not audio.samples
    in_place = edit_audio(audio, codec=codec, prior=prior, region=region, in_place=True)
    assert in_place.audio.samples is audio.samples
    assert np.array_equal(in_place.audio.samples, copied.audio.samples)
    assert not np.array_equal(audio.samples, before)


def test_edit_file_maps_its_input_and_leaves_it_untouched_even_when_writing_over_it(tmp_path, models, notes):
    codec, prior = models
    stereo = soxr.resample(np.stack([notes[1].numpy(), 0.5 * notes[4].numpy()], axis=1), 16000, 44100)
    src = tmp_path / "in.wav"
    sf.write(src, 0.8 * stereo, 44100, subtype="PCM_16")
    original = src.read_bytes()
    region = Region(1.0, 2.0, 200.0, 4000.0)
    expected = edit_audio(io.read_native(src), codec=codec, prior=prior, region=region)
    edit_file(src, tmp_path / "out.wav", codec=codec, prior=prior, region=region)
    assert src.read_bytes() == original
    assert np.array_equal(io.read_native(tmp_path / "out.wav").samples, expected.audio.samples)
    edit_file(src, src, codec=codec, prior=prior, region=region, force=True)  # the edit replaces its input
    assert src.read_bytes() == (tmp_path / "out.wav").read_bytes()


def test_the_requested_region_keeps_its_level_not_just_its_cells(models, notes):
    """The edit is pasted over whole cells (0.77-2.05 s for a 1-2 s request), but the level is matched on the
    rectangle the user asked for, so that is where the power stays (within a dB: a broadband gain over the
    compositing STFT's bins, measured here on another spectrogram); unmatched, it moves by several dB."""
    codec, prior = models
    region = Region(1.0, 2.0, 0.0, 2000.0)
    for index in (1, 3):
        audio = io.NativeAudio(notes[index].numpy()[:, None].astype(np.float32), 16000, "WAV", "FLOAT")
        before = region_level_db(audio.to_float()[0], region, sample_rate=16000)
        for seed in (0, 1):
            options = BlurOptions(seed=seed, temperature=1.0)
            matched = edit_audio(audio, codec=codec, prior=prior, region=region, options=options)
            assert matched.region.start_s < region.start_s and matched.region.stop_s > region.stop_s
            after = region_level_db(matched.audio.to_float()[0], region, sample_rate=16000)
            assert abs(after - before) < 1.0
    gap = notes[1].numpy().copy()
    gap[12000:36000] = 0.0  # digital silence around the region, wider than its cells and the STFT frames
    audio = io.NativeAudio(gap[:, None].astype(np.float32), 16000, "WAV", "FLOAT")
    quiet = edit_audio(audio, codec=codec, prior=prior, region=Region(1.0, 2.0, 0.0, 2000.0))
    assert quiet.level_gain == 0.0 and "silenced" in (quiet.gain_note() or "")
    assert not quiet.audio.to_float()[0, 16000:32000].any()


def test_windows_follow_the_region_and_give_the_whole_files_codes(models, notes):
    codec, prior = models
    long = np.resize(notes[4].numpy(), 16000 * 20)
    audio = io.NativeAudio(long[:, None].astype(np.float32), 16000, "WAV", "FLOAT")
    region = Region(9.0, 10.0, 200.0, 4000.0)
    result = edit_audio(audio, codec=codec, prior=prior, region=region)
    encode = result.windows.encode
    assert encode[1] - encode[0] < 24 and result.original.grids[0].shape[-1] == encode[1] - encode[0]
    with torch.inference_mode():
        whole = codec.encode(torch.from_numpy(long)[None]).grids[0]
    reach = -(-codec.receptive_field_frames()[0] // codec.level_strides()[0][1])
    exact = slice(encode[0] + reach if encode[0] > 0 else 0, encode[1] - reach)
    local = result.original.grids[0][..., exact.start - encode[0] : exact.stop - encode[0]]
    assert torch.equal(local, whole[..., exact])
    assert (
        edit_windows(result.cells, width=whole.shape[-1], codec=codec, prior=prior, feather=Feather()) == result.windows
    )
    # The Transformer reads its attention window only: the codes it draws in the encoded window are those it
    # draws given the whole file's grid (same seed), and the window is that much narrower than 2 x its width.
    transformer = load_prior("transformer")
    options = BlurOptions(seed=5)
    edited = edit_audio(audio, codec=codec, prior=transformer, region=region, options=options)
    first, last = edited.windows.encode
    assert last - first <= transformer.max_width + 2 * reach + 2
    with torch.inference_mode():
        drawn = resample_cells(whole, edited.cells, prior=transformer, options=options)
        whole_grids = codec.encode(torch.from_numpy(long)[None])
    assert torch.equal(edited.whole_codes(whole_grids).grids[0], drawn)


def test_cli_blur_keeps_the_input_format(tmp_path, notes, capsys):
    src = tmp_path / "in.wav"
    sf.write(src, _stereo(notes[0], 44100, 4.0), 44100, subtype="PCM_24")
    out, png = tmp_path / "out.flac", tmp_path / "plot.png"
    assert main(["blur", str(src), "-o", str(out), "--time", "1:2", "--freq", "200:4000", "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "44100 Hz, 2 ch, PCM_24" in printed and "are the input's" in printed and "original's level" in printed
    assert sf.info(str(out)).subtype == "PCM_24" and png.read_bytes()[:4] == b"\x89PNG"
    free = tmp_path / "free.flac"
    assert main(["blur", str(src), "-o", str(free), "--time", "1:2", "--freq", "200:4000", "--free-level"]) == 0
    assert "original's level" not in capsys.readouterr().out
    assert not np.array_equal(sf.read(str(free), dtype="int32")[0], sf.read(str(out), dtype="int32")[0])
    assert main(["blur", str(src), "-o", str(tmp_path / "r.wav"), "--time", "1:2", "--resynthesize",
                 "--subtype", "PCM_16"]) == 0  # fmt: skip
    assert "resynthesised" in capsys.readouterr().out and sf.info(str(tmp_path / "r.wav")).subtype == "PCM_16"


@pytest.mark.parametrize("needed", [(5000, 9000), (-300, 4000), (20000, 40000), (0, 40960)])
def testinverse_frames_hold_every_frame_reaching_the_needed_samples(needed):
    codec = load_codec()
    n_fft, hop = codec.representation.config.n_fft, codec.representation.config.hop_length
    start, frames = 4096, 161
    f0, f1 = inverse_frames(needed, start=start, frames=frames, codec=codec)
    reaching = [j for j in range(frames) if needed[0] - n_fft // 2 < start + j * hop < needed[1] + n_fft // 2]
    assert 0 <= f0 <= min(reaching) - 1 or f0 == 0
    assert max(reaching) + 1 < f1 <= frames or f1 == frames

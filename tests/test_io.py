"""Audio I/O: formats, resampling, downmix, atomic writes, and a clear error for every kind of bad input."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from spectrolab.audio import io
from spectrolab.errors import AudioError, OutputExistsError

SR = 16000


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_save_load_roundtrip(tmp_path, notes, suffix):
    path = io.save(tmp_path / f"note{suffix}", notes[0], sample_rate=SR)
    back = io.load(path)
    assert back.shape == (1, notes.shape[1]) and back.dtype == torch.float32
    tolerance = {".wav": 1e-4, ".flac": 1e-4, ".ogg": 0.05}[suffix]  # 16-bit PCM vs lossy Vorbis
    assert (back[0] - notes[0]).abs().max() < tolerance if suffix != ".ogg" else (back[0] - notes[0]).std() < tolerance


def test_mp3_is_read(tmp_path, notes):
    path = tmp_path / "note.mp3"
    sf.write(path, notes[0].numpy(), SR, format="MP3")
    back = io.load(path, sample_rate=SR)
    assert back.shape == (1, notes.shape[1])
    assert np.corrcoef(back[0].numpy(), notes[0].numpy())[0, 1] > 0.99


def test_resample_matches_soxr_and_downmixes(tmp_path, notes):
    stereo = np.stack([notes[0].numpy(), notes[1].numpy()], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, SR, subtype="FLOAT")
    out = io.load(path, sample_rate=22050)
    expected = soxr.resample(stereo.mean(axis=1, keepdims=True), SR, 22050, quality="HQ")[:, 0]
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-6)
    both = io.load(path, mono=False)
    assert both.shape == (2, notes.shape[1])
    np.testing.assert_allclose(both.mean(0).numpy(), io.load(path)[0].numpy(), atol=1e-7)


def test_save_refuses_overwrite_and_keeps_original(tmp_path, notes):
    path = io.save(tmp_path / "a.wav", notes[0], sample_rate=SR)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="--force"):
        io.save(path, notes[1], sample_rate=SR)
    assert path.read_bytes() == before
    io.save(path, notes[1], sample_rate=SR, force=True)
    assert path.read_bytes() != before


def test_save_refuses_nan_and_leaves_nothing(tmp_path):
    bad = torch.zeros(100)
    bad[5] = float("nan")
    with pytest.raises(AudioError, match="NaN"):
        io.save(tmp_path / "bad.wav", bad, sample_rate=SR)
    assert list(tmp_path.iterdir()) == []


def test_loud_audio_saved_as_float_not_clipped(tmp_path):
    wave = torch.linspace(-2, 2, 1000)
    back = io.load(io.save(tmp_path / "loud.wav", wave, sample_rate=SR))
    np.testing.assert_allclose(back[0].numpy(), wave.numpy(), atol=1e-6)


def _write_truncated(path, notes):
    io.save(path, notes[0], sample_rate=SR)
    path.write_bytes(path.read_bytes()[:30])


def _write_nan(path, notes):
    data = notes[0].numpy().copy()
    data[100] = np.nan
    sf.write(path, data, SR, subtype="FLOAT")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, n: None, "no such file"),
        (lambda p, n: p.write_bytes(b""), "empty"),
        (lambda p, n: p.write_text("this is not audio at all, just text " * 20), "not a readable audio file"),
        (_write_truncated, "not a readable audio file|no samples"),
        (lambda p, n: sf.write(p, np.zeros((0, 1), np.float32), SR), "no samples"),
        (_write_nan, "NaN"),
        (lambda p, n: sf.write(p, n[0].numpy()[:500], 100), "not a usable sample rate"),
    ],
    ids=["missing", "zero-bytes", "not-audio", "truncated", "empty-audio", "nan", "absurd-rate"],
)
def test_bad_input_named_clearly(tmp_path, notes, make, message):
    path = tmp_path / "bad.wav"
    make(path, notes)
    with pytest.raises(AudioError, match=message) as info:
        io.load(path)
    assert "bad.wav" in str(info.value)


def test_absurd_requested_rate_and_unknown_format(tmp_path, notes):
    path = io.save(tmp_path / "a.wav", notes[0], sample_rate=SR)
    with pytest.raises(AudioError, match="sample_rate=5"):
        io.load(path, sample_rate=5)
    with pytest.raises(AudioError, match=r"\.xyz"):
        io.save(tmp_path / "a.xyz", notes[0], sample_rate=SR)
    with pytest.raises(AudioError, match="directory"):
        io.load(tmp_path)


def test_written_files_get_normal_permissions(tmp_path, notes):
    import os

    umask = os.umask(0o022)
    try:
        path = io.save(tmp_path / "p.wav", notes[0], sample_rate=SR)
        raw = io.atomic_write_bytes(tmp_path / "p.bin", b"x")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644 and raw.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32])
def test_native_mono_is_the_mean_of_the_channels_at_full_scale_one(dtype):
    rng = np.random.default_rng(0)
    scale = float(np.iinfo(dtype).max + 1) if np.issubdtype(dtype, np.integer) else 1.0
    samples = (rng.uniform(-0.9, 0.9, (1000, 3)) * scale).astype(dtype)
    subtype = {np.int16: "PCM_16", np.int32: "PCM_32", np.float32: "FLOAT"}[dtype]
    audio = io.NativeAudio(samples, 16000, "WAV", subtype)
    expected = samples[100:700].astype(np.float64).mean(axis=1) / scale
    mono = audio.mono(100, 700)
    assert mono.dtype == np.float64 and mono.shape == (600,)
    np.testing.assert_allclose(mono, expected, rtol=0, atol=1e-15)
    assert np.array_equal(audio.samples, samples.astype(dtype))  # the stored samples are untouched


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_mapped_read_gives_what_a_read_gives_and_never_changes_the_file(tmp_path, subtype):
    rng = np.random.default_rng(1)
    path = tmp_path / "in.wav"
    sf.write(path, rng.uniform(-0.9, 0.9, (3001, 2)), 44100, subtype=subtype)
    data = path.read_bytes()  # put an odd-sized chunk (padded to even) before the samples, as editors may
    at = data.index(b"data")
    data = data[:at] + b"JUNK" + struct.pack("<I", 5) + b"12345\0" + data[at:]
    path.write_bytes(data[:4] + struct.pack("<I", len(data) - 8) + data[8:])
    before = path.read_bytes()
    read, mapped = io.read_native(path), io.read_native(path, mapped=True)
    assert mapped.subtype == read.subtype and mapped.samples.dtype == read.samples.dtype
    assert np.array_equal(mapped.samples, read.samples)
    assert isinstance(mapped.samples, np.memmap) == (subtype != "PCM_24")  # 24-bit is widened on reading
    mapped.samples[100:200] = 0  # copy-on-write: the file keeps its bytes
    assert path.read_bytes() == before and np.array_equal(io.read_native(path).samples, read.samples)


def test_mapped_read_falls_back_to_reading_other_formats(tmp_path):
    path = tmp_path / "in.flac"
    sf.write(path, np.zeros((1000, 1)) + 0.25, 16000, subtype="PCM_16")
    mapped = io.read_native(path, mapped=True)
    assert not isinstance(mapped.samples, np.memmap) and np.all(mapped.samples == 8192)

"""Code grids: geometry, bitrate, the versioned file format and its error paths."""

from __future__ import annotations

import json
import struct
from dataclasses import replace

import pytest
import torch

from spectrolab.codec.codegrid import FORMAT_VERSION, MAGIC, CodeGrid, CodeGrids
from spectrolab.errors import ConfigError, DataError, OutputExistsError


def _grids(batch: int = 2) -> CodeGrids:
    g = torch.Generator().manual_seed(0)
    bottom = CodeGrid(torch.randint(512, (batch, 64, 8), generator=g), 512, 0.512, tuple(range(65)))
    top = CodeGrid(torch.randint(512, (batch, 32, 4), generator=g), 512, 1.024, tuple(range(33)))
    return CodeGrids(levels=(bottom, top), sample_rate=16000, num_samples=64000, codec="vqvae_notono")


def test_notono_bitrate_is_1440_bits_per_second():
    # (64 * 8 + 32 * 4) codes * log2(512) bits / 4 s = 640 * 9 / 4
    grids = _grids()
    assert grids.bits == 5760
    assert grids.bitrate == pytest.approx(1440.0)
    assert grids.codebook_sizes == [512, 512]
    assert [tuple(g.shape) for g in grids.grids] == [(2, 64, 8), (2, 32, 4)]


def test_bytes_round_trip_keeps_everything():
    grids = _grids()
    back = CodeGrids.from_bytes(grids.to_bytes())
    for a, b in zip(grids.levels, back.levels, strict=True):
        assert torch.equal(a.codes, b.codes)
        assert (a.codebook_size, a.seconds_per_cell) == (b.codebook_size, b.seconds_per_cell)
        assert a.row_edges_hz == b.row_edges_hz
    assert (back.sample_rate, back.num_samples, back.codec) == (16000, 64000, "vqvae_notono")


def test_version_2_records_the_codec_weights_and_version_1_files_still_load():
    grids = replace(_grids(), codec_sha256="ab" * 32)
    data = grids.to_bytes()
    assert struct.unpack_from("<8sH", data)[1] == FORMAT_VERSION == 2
    assert CodeGrids.from_bytes(data).codec_sha256 == "ab" * 32
    # A version 1 file, as spectrolab 0.1.0 wrote it: no codec_sha256 in the header.
    _, _, length = struct.unpack_from("<8sHI", data)
    header = json.loads(data[14 : 14 + length])
    del header["codec_sha256"]
    text = json.dumps(header, sort_keys=True).encode()
    old = CodeGrids.from_bytes(struct.pack("<8sHI", MAGIC, 1, len(text)) + text + data[14 + length :])
    assert old.codec_sha256 == "" and old.codec == "vqvae_notono"
    assert torch.equal(old.levels[0].codes, grids.levels[0].codes)
    assert old.made_by == "'vqvae_notono'" and grids.made_by == "'vqvae_notono' (weights abababababab)"


def test_payload_is_two_bytes_per_code():
    data = _grids(batch=1).to_bytes()
    _, _, header_length = struct.unpack_from("<8sHI", data)
    assert len(data) - 14 - header_length == 2 * (64 * 8 + 32 * 4)


def test_file_round_trip_refuses_overwrite_without_force(tmp_path):
    path = tmp_path / "x.codes"
    _grids().save(path)
    with pytest.raises(OutputExistsError):
        _grids().save(path)
    _grids().save(path, force=True)
    assert torch.equal(CodeGrids.load(path).grids[1], _grids().grids[1])


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: b"NOTCODES" + d[8:], "bad magic"),
        (lambda d: d[:10], "too short|truncated"),
        (lambda d: d[:-3], "truncated"),
        (lambda d: d + b"\0\0", r"truncated|larger"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "checksum"),
        (lambda d: d[:8] + struct.pack("<H", FORMAT_VERSION + 1) + d[10:], "newer"),
    ],
)
def test_corrupt_files_raise_data_error(tmp_path, mangle, message):
    path = tmp_path / "bad.codes"
    path.write_bytes(mangle(_grids().to_bytes()))
    with pytest.raises(DataError, match=message):
        CodeGrids.load(path)


def test_header_that_lies_about_shapes_is_rejected():
    grids = _grids(batch=1)
    payload = b"".join(level.codes.numpy().astype("<u2").tobytes() for level in grids.levels)
    header = json.loads(grids.to_bytes()[14 : -len(payload)])
    header["levels"][0]["shape"] = [64, 9]
    text = json.dumps(header).encode()
    with pytest.raises(DataError, match=r"smaller|larger"):
        CodeGrids.from_bytes(struct.pack("<8sHI", MAGIC, FORMAT_VERSION, len(text)) + text + payload)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such"):
        CodeGrids.load(tmp_path / "nope.codes")


def test_codes_out_of_range_and_bad_edges_are_rejected():
    with pytest.raises(ConfigError, match="lie in"):
        CodeGrid(torch.full((1, 2, 2), 8), 8, 0.1, (0, 1, 2))
    with pytest.raises(ConfigError, match="row edges"):
        CodeGrid(torch.zeros(1, 2, 2, dtype=torch.long), 8, 0.1, (0, 1))


def test_with_level_replaces_one_level_only():
    grids = _grids()
    edited = grids.with_level(0, torch.zeros(2, 64, 8, dtype=torch.long))
    assert int(edited.grids[0].sum()) == 0
    assert torch.equal(edited.grids[1], grids.grids[1])
    with pytest.raises(ConfigError, match="do not match"):
        grids.with_level(0, torch.zeros(2, 64, 7, dtype=torch.long))

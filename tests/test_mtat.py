"""MagnaTagATune layout: a tiny fixture written in that layout (tab-separated annotations_final.csv with 188
tag columns, mp3 files in hexadecimal folders), top-50 tags, the common split, and the chunked datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spectrolab.data.mtat import ANNOTATIONS_NAME, read_annotations, read_mtat_split, split_of, top_tags
from spectrolab.data.tracks import RandomChunks, SongChunks, load_tracks
from spectrolab.errors import DataError

FOLDERS = ("0", "3", "9", "a", "b", "c", "c", "d", "e", "f", "f", "5")  # 7 train, 2 valid, 3 test
NUM_TAGS = 188


def make_mtat_fixture(root: Path, waves: torch.Tensor, *, seed: int = 0) -> np.ndarray:
    """Write an MTAT-layout dataset of len(FOLDERS) one-second mp3 clips; returns the (N, 188) tag matrix."""
    rng = np.random.default_rng(seed)
    matrix = (rng.random((len(FOLDERS), NUM_TAGS)) < rng.random(NUM_TAGS)).astype(int)
    header = ["clip_id", *(f"tag{i:03d}" for i in range(NUM_TAGS)), "mp3_path"]
    lines = ["\t".join(f'"{h}"' for h in header)]
    for i, folder in enumerate(FOLDERS):
        rel = f"{folder}/artist-album-{i:02d}-song-0-29.mp3"
        (root / folder).mkdir(parents=True, exist_ok=True)
        wave = waves[i % len(waves), :16000].numpy()
        sf.write(str(root / rel), wave, 16000, format="MP3")
        lines.append("\t".join(f'"{v}"' for v in [str(i * 2), *map(str, matrix[i]), rel]))
    (root / ANNOTATIONS_NAME).write_text("\n".join(lines) + "\n")
    return matrix


@pytest.fixture
def mtat(tmp_path, notes):
    matrix = make_mtat_fixture(tmp_path, notes)
    return tmp_path, matrix


def test_top_tags_and_split_match_the_definition(mtat):
    root, matrix = mtat
    annotations = read_annotations(root)
    assert annotations.tags[:2] == ["tag000", "tag001"] and np.array_equal(annotations.matrix, matrix)
    expected = [f"tag{i:03d}" for i in np.argsort(-matrix.sum(0), kind="stable")[:50]]
    assert top_tags(annotations) == expected
    columns = [int(t[3:]) for t in expected]
    for split, rows in (("train", [0, 1, 2, 3, 4, 11]), ("valid", [5, 6]), ("test", [7, 8, 9, 10])):
        index = read_mtat_split(root, split)
        assert [int(c) // 2 for c in index.clip_ids] == rows
        assert np.array_equal(index.targets, matrix[rows][:, columns])
        assert index.labels == expected


def test_split_by_first_hex_character():
    assert [split_of(p) for p in ("0/x.mp3", "b/x.mp3", "c/x.mp3", "d/x.mp3", "F/x.mp3")] == [
        "train",
        "train",
        "valid",
        "test",
        "test",
    ]
    with pytest.raises(DataError, match="hexadecimal"):
        split_of("g/x.mp3")


def test_chunked_datasets_read_the_mp3s(mtat, notes):
    root, _ = mtat
    tracks = load_tracks(root, "test")
    assert tracks.layout == "mtat" and tracks.multilabel and tracks.targets.shape == (4, 50)
    chunk, target = RandomChunks(tracks, length=4000, sample_rate=16000)[0]
    assert chunk.shape == (4000,) and target.shape == (50,)
    # Resampling path: ask for 8 kHz; one second of audio gives two 4000-sample tiles.
    chunks, _ = SongChunks(tracks, length=4000, sample_rate=8000)[0]
    assert chunks.shape == (2, 4000)
    full, _ = SongChunks(tracks, length=16000, sample_rate=16000)[0]
    rms = lambda x: float(x.pow(2).mean().sqrt())  # noqa: E731
    assert rms(full[0]) == pytest.approx(rms(notes[7 % len(notes), :16000]), rel=0.1)  # mp3 keeps the loudness


def test_empty_mp3_skipped_missing_mp3_refused(mtat):
    root, _ = mtat
    (root / "d/artist-album-07-song-0-29.mp3").write_bytes(b"")
    assert len(read_mtat_split(root, "test").files) == 3
    (root / "e/artist-album-08-song-0-29.mp3").unlink()
    with pytest.raises(DataError, match="missing"):
        read_mtat_split(root, "test")


def test_bad_annotations_are_refused(tmp_path):
    (tmp_path / ANNOTATIONS_NAME).write_text("clip_id,tag,mp3_path\n1,0,0/x.mp3\n")
    with pytest.raises(DataError, match="tab-separated"):
        read_annotations(tmp_path)

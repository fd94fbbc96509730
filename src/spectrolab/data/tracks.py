"""Tagging datasets as lists of tracks with targets, and the torch datasets that chunk them.

Three layouts are recognised by :func:`load_tracks`: rendered clips (``labels.json``, multi-label tags), the
MagnaTagATune layout (``annotations_final.csv``, top-50 tags) and the NSynth format (``nsynth-<split>/``,
single-label instrument family or pitch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from spectrolab.audio import io
from spectrolab.data.chunking import evenly_spaced_chunks, random_start, tiling_chunks
from spectrolab.errors import ConfigError, DataError

NSYNTH_TARGETS = ("instrument_family", "pitch")


@dataclass(frozen=True)
class TrackSet:
    """Audio files and their targets: multi-hot (N, C) float for multi-label data, class indices (N,) otherwise."""

    files: list[Path]
    targets: torch.Tensor
    labels: list[str]
    multilabel: bool
    layout: str

    def __post_init__(self) -> None:
        if len(self.files) != self.targets.shape[0]:
            raise DataError(f"{len(self.files)} files but {self.targets.shape[0]} targets")

    def __len__(self) -> int:
        return len(self.files)

    def spread(self, count: int | None) -> TrackSet:
        """``count`` tracks evenly spread over the set (all if ``count`` is ``None`` or not smaller)."""
        if count is None or count >= len(self):
            return self
        keep = spread_indices(len(self), count)
        files = [self.files[i] for i in keep]
        return TrackSet(files, self.targets[keep], self.labels, self.multilabel, self.layout)


def spread_indices(total: int, count: int | None) -> list[int]:
    """Indices of ``count`` items evenly spread over ``total`` (all if ``count`` is ``None`` or not smaller)."""
    if count is None or count >= total:
        return list(range(total))
    if count < 1:
        raise ConfigError(f"need at least one track, got count={count}")
    return np.linspace(0, total - 1, count).round().astype(int).tolist()


def _clips(root: Path, split: str) -> TrackSet:
    from spectrolab.data.clips import read_clip_split

    index = read_clip_split(root, split)
    return TrackSet(index.files, torch.from_numpy(index.targets), index.labels, True, "clips")


def _mtat(root: Path, split: str) -> TrackSet:
    from spectrolab.data.mtat import read_mtat_split

    index = read_mtat_split(root, split)
    return TrackSet(index.files, torch.from_numpy(index.targets), index.labels, True, "mtat")


def _nsynth(root: Path, split: str, target: str) -> TrackSet:
    from spectrolab.data.nsynth import NSYNTH_FAMILIES, read_examples, split_dir

    folder = split_dir(root, split)
    examples = read_examples(folder)
    keys = sorted(examples)
    if target == "instrument_family":
        labels = list(NSYNTH_FAMILIES)
        values = [int(examples[k]["instrument_family"]) for k in keys]
    else:
        labels = [str(p) for p in range(21, 109)]
        values = [int(examples[k]["pitch"]) - 21 for k in keys]
        if any(not 0 <= v < len(labels) for v in values):
            raise DataError(f"{folder}: pitches outside NSynth's 21-108")
    files = [folder / "audio" / f"{k}.wav" for k in keys]
    return TrackSet(files, torch.tensor(values, dtype=torch.int64), labels, False, f"nsynth:{target}")


def detect_layout(root: str | os.PathLike[str]) -> str:
    """``"clips"``, ``"mtat"`` or ``"nsynth"`` from the files in ``root``; :class:`DataError` otherwise."""
    root = Path(root)
    if (root / "labels.json").is_file():
        return "clips"
    if (root / "annotations_final.csv").is_file():
        return "mtat"
    if (root / "nsynth-train").is_dir() or (root / "nsynth-test").is_dir():
        return "nsynth"
    raise DataError(
        f"{root}: not a tagging dataset (expected labels.json from `spectrolab data clips`, a MagnaTagATune "
        "annotations_final.csv, or NSynth nsynth-<split>/ folders)"
    )


def load_tracks(root: str | os.PathLike[str], split: str, *, target: str = "instrument_family") -> TrackSet:
    """The tracks of ``split`` in the dataset at ``root`` (layout detected); ``target`` is for NSynth data."""
    root = Path(root)
    layout = detect_layout(root)
    if layout == "clips":
        return _clips(root, split)
    if layout == "mtat":
        return _mtat(root, split)
    if target not in NSYNTH_TARGETS:
        raise ConfigError(f"NSynth target '{target}' is not one of {', '.join(NSYNTH_TARGETS)}")
    return _nsynth(root, split, target)


def dataset_recipe(root: str | os.PathLike[str]) -> dict | None:
    """How the dataset at ``root`` was made, for a model's metadata: the clip recipe (``labels.json``, with the
    number of rendering processes, on which the samples depend slightly), a
    rendering's manifest (``render.json``: soundfont, pitches, velocities, program splits), a merge's
    ``merge.json`` with each source's own recipe, or a codec round trip's ``roundtrip.json`` (codec, digest,
    selection) with its source's recipe; ``None`` when none of these files is there."""
    import json

    from spectrolab.data.merge import MERGE_MANIFEST
    from spectrolab.data.nsynth_format import MANIFEST_FILE
    from spectrolab.data.roundtrip import ROUNDTRIP_MANIFEST

    root = Path(root)
    if (root / "labels.json").is_file():
        info = json.loads((root / "labels.json").read_text())
        return None if info.get("recipe") is None else {**info["recipe"], "workers": info.get("workers", 1)}
    if (root / MANIFEST_FILE).is_file():
        return json.loads((root / MANIFEST_FILE).read_text())
    if (root / MERGE_MANIFEST).is_file():
        merge = json.loads((root / MERGE_MANIFEST).read_text())
        return {**merge, "recipes": {name: dataset_recipe(path) for name, path in merge["sources"].items()}}
    if (root / ROUNDTRIP_MANIFEST).is_file():
        roundtrip = json.loads((root / ROUNDTRIP_MANIFEST).read_text())
        return {**roundtrip, "source_recipe": dataset_recipe(roundtrip["source"])}
    return None


def read_segment(path: Path, start: int, length: int, *, sample_rate: int) -> torch.Tensor:
    """Mono samples ``[start, start + length)`` (fewer at the end) of ``path`` at ``sample_rate``, (T,).

    Files at ``sample_rate`` are read partially; others are loaded whole and resampled first.
    """
    if sf.info(str(path)).samplerate != sample_rate:
        return io.load(path, sample_rate=sample_rate)[0, start : start + length]
    data, _ = sf.read(str(path), start=start, frames=length, dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))


def num_samples(path: Path, *, sample_rate: int) -> int:
    """Length of ``path`` in samples at ``sample_rate``."""
    info = io.info(path)
    return round(info.frames * sample_rate / info.sample_rate)


class RandomChunks(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Instance-level training items: one random ``length``-sample chunk of a track per access, and its target.

    Items are (chunk (length,), target); short tracks are zero-padded.
    """

    def __init__(self, tracks: TrackSet, *, length: int, sample_rate: int) -> None:
        self.tracks, self.length, self.sample_rate = tracks, length, sample_rate
        self.sizes = [num_samples(f, sample_rate=sample_rate) for f in tracks.files]

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = random_start(self.sizes[index], self.length)
        chunk = read_segment(self.tracks.files[index], start, self.length, sample_rate=self.sample_rate)
        return torch.nn.functional.pad(chunk, (0, self.length - chunk.shape[0])), self.tracks.targets[index]


class SongChunks(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Song-level evaluation items: all chunks of a track (n, length) and its target.

    ``num_chunks=None`` tiles the track with non-overlapping chunks; an integer takes that many evenly spaced
    (overlapping where needed) chunks, as the tagging literature does.
    """

    def __init__(self, tracks: TrackSet, *, length: int, sample_rate: int, num_chunks: int | None = None) -> None:
        self.tracks, self.length, self.sample_rate, self.num_chunks = tracks, length, sample_rate, num_chunks

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        wave = io.load(self.tracks.files[index], sample_rate=self.sample_rate)[0]
        if self.num_chunks is None:
            chunks = tiling_chunks(wave, self.length)
        else:
            chunks = evenly_spaced_chunks(wave, self.length, self.num_chunks)
        return chunks, self.tracks.targets[index]


@dataclass
class SongBatch:
    """Chunks of several tracks stacked (sum(counts), length), chunks per track, and the track targets."""

    chunks: torch.Tensor
    counts: list[int]
    targets: torch.Tensor


def collate_songs(items: list[tuple[torch.Tensor, torch.Tensor]]) -> SongBatch:
    """Collate :class:`SongChunks` items into a :class:`SongBatch`."""
    return SongBatch(
        chunks=torch.cat([c for c, _ in items]),
        counts=[c.shape[0] for c, _ in items],
        targets=torch.stack([t for _, t in items]),
    )

"""Log-mel features of a dataset split, computed once and memory-mapped, so that no training epoch recomputes
an STFT.

A cache is a folder holding, per split, ``<split>.npy`` -- the front end's log-mel in dB (before any batch
norm) of the first ``length`` samples of every track (zero-padded), float16, shape (N, n_mels, frames) -- and
``<split>.json``, its :class:`CacheIdentity`: the front end's configuration, ``length`` and the tracks (count
and a digest of their files and targets). Both are written atomically (temp file, then rename), the JSON
last, so a cache without its JSON is an unfinished one. :func:`feature_cache` opens a cache whose identity
matches and builds a missing one; a cache built for another front end or other tracks is refused with the
differing field named.

:class:`CachedFeatures` serves (log-mel (1, n_mels, frames), target) items from the memory map, with the
training augmentations that need no STFT: a random gain (a level shift in dB), a random delay of the onset
(frames shifted right, the gap filled with the item's floor) and SpecAugment masks (Park et al. 2019).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from spectrolab.audio.io import atomic_path, atomic_write_bytes
from spectrolab.audio.representations import LogMel
from spectrolab.data.tracks import TrackSet, read_segment
from spectrolab.errors import ConfigError, DataError

CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheIdentity:
    """What the numbers of a cache depend on; a cache is used only where all fields match."""

    logmel: dict[str, Any]
    length: int
    split: str
    tracks: int
    digest: str
    dtype: str = "float16"
    version: int = CACHE_VERSION


def tracks_digest(tracks: TrackSet) -> str:
    """SHA-256 of the tracks' resolved file names, targets and labels."""
    h = hashlib.sha256()
    for path in tracks.files:
        h.update(str(Path(path).resolve()).encode() + b"\0")
    h.update(tracks.targets.numpy().tobytes())
    h.update("\0".join(tracks.labels).encode())
    return h.hexdigest()


def cache_identity(tracks: TrackSet, *, split: str, logmel: LogMel, length: int) -> CacheIdentity:
    """The identity a cache of ``tracks`` under ``logmel`` with ``length``-sample items must have."""
    if length < 1:
        raise ConfigError(f"feature cache: length must be positive, got {length}")
    return CacheIdentity(
        logmel=json.loads(json.dumps(asdict(logmel.config))),  # tuples as lists, as read back from the JSON
        length=length,
        split=split,
        tracks=len(tracks),
        digest=tracks_digest(tracks),
    )


@dataclass(frozen=True)
class FeatureCache:
    """An opened cache: ``features`` (N, n_mels, frames) float16 memory map and the tracks' targets."""

    features: np.ndarray
    targets: torch.Tensor
    identity: CacheIdentity
    path: Path

    def __len__(self) -> int:
        return int(self.features.shape[0])


def _paths(directory: Path, split: str) -> tuple[Path, Path]:
    return directory / f"{split}.npy", directory / f"{split}.json"


def open_feature_cache(directory: str | os.PathLike[str], tracks: TrackSet, *, identity: CacheIdentity) -> FeatureCache:
    """The cache of ``identity.split`` in ``directory``; :class:`DataError` if absent, unfinished or built for
    other tracks or another front end."""
    array_path, meta_path = _paths(Path(directory), identity.split)
    if not meta_path.is_file() or not array_path.is_file():
        raise DataError(f"{directory}: no finished feature cache of split '{identity.split}'")
    try:
        stored = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{meta_path}: unreadable feature-cache metadata ({exc})") from None
    for f in fields(CacheIdentity):
        want = getattr(identity, f.name)
        if stored.get(f.name) != want:
            raise DataError(
                f"{meta_path}: the cache was built with {f.name}={stored.get(f.name)!r}, this run needs {want!r}; "
                "give another cache folder (or delete this one)"
            )
    features = np.load(array_path, mmap_mode="r")
    if features.shape[0] != identity.tracks:
        raise DataError(f"{array_path}: holds {features.shape[0]} items, its metadata says {identity.tracks}")
    return FeatureCache(features, tracks.targets, identity, array_path)


def build_feature_cache(
    directory: str | os.PathLike[str],
    tracks: TrackSet,
    *,
    identity: CacheIdentity,
    logmel: LogMel,
    batch_size: int = 64,
    progress: Callable[[int, int, float], None] | None = None,
) -> FeatureCache:
    """Compute ``logmel`` of the first ``identity.length`` samples of every track and write the cache.

    ``progress(done, total, seconds)`` is called after every batch. Overwrites an unfinished or refused cache
    of the same split.
    """
    directory = Path(directory)
    array_path, meta_path = _paths(directory, identity.split)
    sample_rate, length = logmel.config.sample_rate, identity.length
    shape = (len(tracks), logmel.config.n_mels, logmel.num_frames(length))
    meta_path.unlink(missing_ok=True)  # the cache is unfinished from here on
    start = time.perf_counter()
    with atomic_path(array_path, force=True) as tmp, torch.inference_mode():
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
        for first in range(0, len(tracks), batch_size):
            files = tracks.files[first : first + batch_size]
            wave = torch.stack([_first_samples(f, length, sample_rate=sample_rate) for f in files])
            out[first : first + len(files)] = logmel(wave)[:, 0].numpy().astype(np.float16)
            if progress is not None:
                progress(first + len(files), len(tracks), time.perf_counter() - start)
        out.flush()
        del out
    atomic_write_bytes(meta_path, (json.dumps(asdict(identity), indent=1) + "\n").encode(), force=True)
    return open_feature_cache(directory, tracks, identity=identity)


def _first_samples(path: Path, length: int, *, sample_rate: int) -> torch.Tensor:
    wave = read_segment(path, 0, length, sample_rate=sample_rate)
    return torch.nn.functional.pad(wave, (0, length - wave.shape[0]))


def feature_cache(
    directory: str | os.PathLike[str],
    tracks: TrackSet,
    *,
    split: str,
    logmel: LogMel,
    length: int,
    progress: Callable[[int, int, float], None] | None = None,
) -> FeatureCache:
    """Open the cache of ``split`` in ``directory``, building it first if it does not exist yet.

    A finished cache with another identity is refused (:class:`DataError`), never silently rebuilt.
    """
    identity = cache_identity(tracks, split=split, logmel=logmel, length=length)
    if _paths(Path(directory), split)[1].is_file():
        return open_feature_cache(directory, tracks, identity=identity)
    return build_feature_cache(directory, tracks, identity=identity, logmel=logmel, progress=progress)


@dataclass(frozen=True)
class Augment:
    """Training augmentations of cached log-mels: gain uniform in +-``gain_db`` dB, onset delayed by up to
    ``max_shift`` frames, one frequency mask of up to ``freq_mask`` bands and one time mask of up to
    ``time_mask`` frames (filled with the item's mean), and a broad random equaliser of at most ``eq_db`` dB
    (the first three cosines over the mel bands, each of amplitude uniform in +-``eq_db``/3 dB: the spectral
    tilts and bumps by which sample libraries differ). Zeros turn each off."""

    gain_db: float = 0.0
    max_shift: int = 0
    freq_mask: int = 0
    time_mask: int = 0
    eq_db: float = 0.0

    def __post_init__(self) -> None:
        if min(self.gain_db, self.max_shift, self.freq_mask, self.time_mask, self.eq_db) < 0:
            raise ConfigError(f"augmentation sizes must be >= 0, got {self}")


def _randint(high: int) -> int:
    """Uniform in [0, high]."""
    return int(torch.randint(high + 1, (1,))) if high > 0 else 0


def augment_logmel(spec: torch.Tensor, augment: Augment) -> torch.Tensor:
    """One random draw of ``augment`` applied to a log-mel (1, n_mels, N) in dB; returns a new tensor."""
    spec = spec.clone()
    if augment.gain_db > 0:
        spec += (torch.rand(()) * 2 - 1) * augment.gain_db
    shift = min(_randint(augment.max_shift), spec.shape[-1] - 1)
    if shift > 0:
        floor = torch.full((*spec.shape[:-1], shift), float(spec.amin()))
        spec = torch.cat([floor, spec[..., :-shift]], dim=-1)
    fill = spec.mean()
    width = min(_randint(augment.freq_mask), spec.shape[-2])
    if width > 0:
        low = _randint(spec.shape[-2] - width)
        spec[..., low : low + width, :] = fill
    width = min(_randint(augment.time_mask), spec.shape[-1])
    if width > 0:
        low = _randint(spec.shape[-1] - width)
        spec[..., low : low + width] = fill
    if augment.eq_db > 0:  # drawn last, so that the other draws do not depend on it
        spec += eq_curve((torch.rand(EQ_COSINES) * 2 - 1) * augment.eq_db / EQ_COSINES, spec.shape[-2])[:, None]
    return spec


EQ_COSINES = 3


def eq_curve(amplitudes: torch.Tensor, n_mels: int) -> torch.Tensor:
    """The equaliser (n_mels,) in dB: ``sum_k amplitudes[k-1] cos(pi k (m + 1/2) / n_mels)``, k = 1..K."""
    k = torch.arange(1, len(amplitudes) + 1, dtype=torch.float32)
    m = torch.arange(n_mels, dtype=torch.float32) + 0.5
    return (amplitudes[:, None] * torch.cos(torch.pi * k[:, None] * m[None] / n_mels)).sum(0)


class CachedFeatures(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Items (log-mel (1, n_mels, frames) float32, target) of a :class:`FeatureCache`, augmented if ``augment``;
    ``indices`` selects cached items (default: all)."""

    def __init__(
        self, cache: FeatureCache, *, augment: Augment | None = None, indices: list[int] | None = None
    ) -> None:
        self.cache, self.augment = cache, augment
        self.indices = list(range(len(cache))) if indices is None else indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.indices[index]
        spec = torch.from_numpy(self.cache.features[index].astype(np.float32))[None]
        if self.augment is not None:
            spec = augment_logmel(spec, self.augment)
        return spec, self.cache.targets[index]

"""Cut waveforms into model-sized chunks.

Training is instance-level: each step sees one random chunk of a model's ``input_length`` per track.
Song-level evaluation sees several chunks per track: either ``num_chunks`` evenly spaced (possibly
overlapping) chunks, as in the music-tagging literature, or the non-overlapping chunks that tile the track,
the last one zero-padded. Tracks shorter than one chunk are zero-padded on the right.
"""

from __future__ import annotations

import torch

from spectrolab.errors import ConfigError


def _check_length(length: int) -> None:
    if length <= 0:
        raise ConfigError(f"chunk length must be positive, got {length}")


def pad_to(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad the last axis of ``wave`` (..., T) on the right to at least ``length`` samples."""
    missing = length - wave.shape[-1]
    return torch.nn.functional.pad(wave, (0, missing)) if missing > 0 else wave


def random_start(num_samples: int, length: int, *, generator: torch.Generator | None = None) -> int:
    """A uniformly random start so that ``[start, start + length)`` lies inside ``num_samples`` (0 if shorter)."""
    _check_length(length)
    span = num_samples - length
    return int(torch.randint(span + 1, (1,), generator=generator)) if span > 0 else 0


def random_chunk(wave: torch.Tensor, length: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """One random chunk (..., length) of ``wave`` (..., T); zero-padded when T < length."""
    start = random_start(wave.shape[-1], length, generator=generator)
    return pad_to(wave[..., start : start + length], length)


def evenly_spaced_starts(num_samples: int, length: int, num_chunks: int) -> list[int]:
    """Starts of ``num_chunks`` chunks spaced by ``(T - length) // num_chunks``, the literature's song-level
    evaluation (the last chunk may end before the track does); all 0 when T <= length."""
    _check_length(length)
    if num_chunks <= 0:
        raise ConfigError(f"num_chunks must be positive, got {num_chunks}")
    hop = max(num_samples - length, 0) // num_chunks
    return [i * hop for i in range(num_chunks)]


def evenly_spaced_chunks(wave: torch.Tensor, length: int, num_chunks: int) -> torch.Tensor:
    """Chunks (num_chunks, length) of a track (T,) at :func:`evenly_spaced_starts`."""
    wave = pad_to(wave, length)
    starts = evenly_spaced_starts(wave.shape[-1], length, num_chunks)
    return torch.stack([wave[s : s + length] for s in starts])


def num_tiling_chunks(num_samples: int, length: int) -> int:
    """How many non-overlapping chunks :func:`tiling_chunks` returns: ``max(1, ceil(T / length))``."""
    _check_length(length)
    return max(1, -(-num_samples // length))


def tiling_chunks(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Non-overlapping chunks (ceil(T / length), length) that cover a track (T,): the last one, partial, is
    zero-padded (so the end of the track is tagged too), and so is a track shorter than one chunk."""
    count = num_tiling_chunks(wave.shape[-1], length)
    return pad_to(wave, count * length).reshape(count, length)

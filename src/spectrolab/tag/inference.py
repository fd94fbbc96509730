"""Song-level inference: tile tracks into a model's chunks, run the chunks of many tracks in shared batches
under ``torch.inference_mode``, and aggregate each track's chunk logits."""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.data.chunking import evenly_spaced_chunks, tiling_chunks
from spectrolab.errors import ConfigError
from spectrolab.tag.aggregate import Aggregation, aggregate


def track_chunks(wave: torch.Tensor, length: int, *, num_chunks: int | None = None) -> torch.Tensor:
    """Chunks (n, length) of a track (T,): non-overlapping tiles, or ``num_chunks`` evenly spaced ones."""
    return tiling_chunks(wave, length) if num_chunks is None else evenly_spaced_chunks(wave, length, num_chunks)


def chunk_logits(model: nn.Module, chunks: torch.Tensor, *, batch_size: int = 32) -> torch.Tensor:
    """Logits (N, C) of chunks (N, length), ``batch_size`` chunks per forward pass, in inference mode."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    with torch.inference_mode():
        return torch.cat([model(part) for part in torch.split(chunks, batch_size)])


def song_chunk_logits(
    model: nn.Module, waves: list[torch.Tensor], *, length: int, num_chunks: int | None = None, batch_size: int = 32
) -> list[torch.Tensor]:
    """Per track (T_i,), the logits (n_i, C) of its chunks; chunks of different tracks share batches."""
    chunks = [track_chunks(w, length, num_chunks=num_chunks) for w in waves]
    logits = chunk_logits(model, torch.cat(chunks), batch_size=batch_size)
    return list(torch.split(logits, [c.shape[0] for c in chunks]))


def song_scores(
    model: nn.Module,
    waves: list[torch.Tensor],
    *,
    length: int,
    multilabel: bool = True,
    how: Aggregation = "mean",
    num_chunks: int | None = None,
    batch_size: int = 32,
) -> torch.Tensor:
    """Song-level scores (S, C) of S tracks, aggregated ``how`` over their chunks."""
    per_track = song_chunk_logits(model, waves, length=length, num_chunks=num_chunks, batch_size=batch_size)
    return torch.stack([aggregate(lg, how=how, multilabel=multilabel) for lg in per_track])

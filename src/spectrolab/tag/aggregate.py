"""Song-level scores from chunk-level logits: mean or max of the chunk probabilities, or a majority vote."""

from __future__ import annotations

import torch

from spectrolab.errors import ConfigError
from spectrolab.tag.names import AGGREGATIONS, Aggregation


def probabilities(logits: torch.Tensor, *, multilabel: bool) -> torch.Tensor:
    """Sigmoid of ``logits`` (..., C) for multi-label tagging, softmax over C for single-label."""
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)


def aggregate(logits: torch.Tensor, *, how: Aggregation = "mean", multilabel: bool = True) -> torch.Tensor:
    """Song-level scores (C,) from the logits (N, C) of a track's N chunks.

    ``mean``: mean of the chunk probabilities (the literature's song-level evaluation). ``max``: their maximum.
    ``vote``: the fraction of chunks voting for each class -- probability above 0.5 for multi-label tagging,
    the arg-max class for single-label.
    """
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ConfigError(f"expected chunk logits (N, C) with N > 0, got shape {tuple(logits.shape)}")
    probs = probabilities(logits, multilabel=multilabel)
    if how == "mean":
        return probs.mean(dim=0)
    if how == "max":
        return probs.amax(dim=0)
    if how == "vote":
        votes = probs > 0.5 if multilabel else torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]) > 0
        return votes.float().mean(dim=0)
    raise ConfigError(f"unknown aggregation '{how}'; use one of {', '.join(AGGREGATIONS)}")


def aggregate_segments(
    logits: torch.Tensor, counts: list[int], *, how: Aggregation = "mean", multilabel: bool = True
) -> torch.Tensor:
    """Song-level scores (S, C) of S tracks whose chunk logits are stacked in ``logits`` (sum(counts), C)."""
    if sum(counts) != logits.shape[0]:
        raise ConfigError(f"chunk counts sum to {sum(counts)} but {logits.shape[0]} chunk logits were given")
    parts = torch.split(logits, counts)
    return torch.stack([aggregate(p, how=how, multilabel=multilabel) for p in parts])

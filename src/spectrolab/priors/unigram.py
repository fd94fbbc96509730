"""Position-only baseline: p(code | frequency row), additively smoothed, fitted by counting."""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.errors import ModelError
from spectrolab.priors.base import (
    Conditioning,
    check_grids,
    check_region,
    check_sampling,
    check_sizes,
    columns_around,
    gather_codes,
    hidden_codes_log_prob,
    sample_codes,
)


class UnigramPrior(nn.Module):
    """p(code | row) with additive smoothing ``alpha``; ignores neighbours and labels.

    Buffer ``counts`` (H, K) holds how often each code occurred in each row.
    """

    default_temperature = 1.0  # the plain distribution: a baseline, not an editor
    counts: torch.Tensor

    def __init__(self, *, codebook_size: int, height: int, alpha: float = 1.0) -> None:
        super().__init__()
        check_sizes(codebook_size=codebook_size, height=height, alpha=alpha)
        self.codebook_size = codebook_size
        self.height = height
        self.alpha = alpha
        self.register_buffer("counts", torch.zeros(height, codebook_size))

    def context_window(self, start: int, stop: int, *, width: int) -> tuple[int, int]:
        """The columns sampling ``[start, stop)`` reads: those columns alone (a cell depends on its row only)."""
        return columns_around(start, stop, context=0, width=width)

    @torch.no_grad()
    def fit(self, grids: torch.Tensor) -> UnigramPrior:
        """Add the codes of ``grids`` (B, H, W) to the counts; returns self."""
        grids = check_grids(grids, self.codebook_size, height=self.height)
        rows = torch.arange(self.height, device=grids.device).view(1, -1, 1).expand_as(grids)
        flat = (rows * self.codebook_size + grids).reshape(-1)
        self.counts += torch.bincount(flat, minlength=self.height * self.codebook_size).view_as(self.counts)
        return self

    def row_log_probs(self) -> torch.Tensor:
        """log p(code | row) (H, K)."""
        if float(self.counts.sum()) == 0:
            raise ModelError("this unigram prior has not been fitted (all counts are zero)")
        smoothed = self.counts + self.alpha
        return smoothed.log() - smoothed.sum(dim=1, keepdim=True).log()

    def log_probs(
        self, grids: torch.Tensor, *, hidden: torch.Tensor | None = None, conditioning: Conditioning | None = None
    ) -> torch.Tensor:
        """(B, H, W, K): the row's code distribution at every cell (context is ignored)."""
        grids = check_grids(grids, self.codebook_size, height=self.height)
        table = self.row_log_probs()
        return table[None, :, None, :].expand(*grids.shape, self.codebook_size)

    def log_prob(self, grids: torch.Tensor, *, conditioning: Conditioning | None = None) -> torch.Tensor:
        """(B, H, W) log p(code | row) of each cell, in nats."""
        return gather_codes(self.log_probs(grids), grids.long())

    def hidden_log_prob(
        self, grids: torch.Tensor, hidden: torch.Tensor, *, conditioning: Conditioning | None = None
    ) -> torch.Tensor:
        """(n,) log p of the codes of the cells of ``hidden`` (B, H, W), row-major, given the visible cells."""
        return hidden_codes_log_prob(self, grids, hidden, conditioning)

    def sample(
        self,
        grids: torch.Tensor,
        region: torch.Tensor,
        *,
        temperature: float = 1.0,
        steps: int = 1,
        generator: torch.Generator | None = None,
        conditioning: Conditioning | None = None,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """Redraw the cells of ``region`` independently from their row's distribution (labels, hence
        ``guidance``, play no part); others are kept."""
        check_sampling(temperature=temperature, steps=steps, guidance=guidance)
        region = check_region(region, grids)
        drawn = sample_codes(self.log_probs(grids), temperature=temperature, generator=generator)
        return torch.where(region, drawn, grids.long())

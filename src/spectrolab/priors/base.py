"""What every code-grid prior offers, and the checks and helpers they share.

A code grid is a LongTensor (B, H, W): ``H`` frequency rows (row 0 the lowest band), ``W`` time cells, values in
``[0, K)`` for a codebook of ``K`` codes. A prior models the code of each cell given its context:

- ``log_probs(grids, hidden=...)`` -> (B, H, W, K): for each cell, the log-distribution over the codebook given
  the cells that are not hidden (never the cell itself where it is hidden);
- ``log_prob(grids)`` -> (B, H, W): log p(code of each cell | every other cell), the per-cell terms of the
  pseudo-log-likelihood, in nats; :func:`bits_per_code` turns it into the figure we report;
- ``sample(grids, region, ...)`` -> (B, H, W): the grids with the cells of ``region`` redrawn given the rest;
  cells outside ``region`` are returned unchanged. ``guidance`` (classifier-free guidance) sets how hard known
  labels steer the draws: each cell is drawn from ``log p_uncond + guidance * (log p_cond - log p_uncond)``
  (renormalised), so 1 is the plain conditional, 0 ignores the labels and values above 1 push towards them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from spectrolab.data.nsynth_format import NSYNTH_FAMILIES
from spectrolab.errors import ConfigError

NUM_PITCHES = 128
NUM_FAMILIES = 11


@dataclass(frozen=True)
class Conditioning:
    """Optional global labels of each grid: MIDI pitch (B,) in 0-127, instrument family (B,) in 0-10.

    ``-1`` in either tensor means "unknown" for that item.
    """

    pitch: torch.Tensor | None = None
    family: torch.Tensor | None = None

    @classmethod
    def from_names(cls, pitch: int | None, family: str | None) -> Conditioning | None:
        """Labels of one grid from a MIDI pitch and an NSynth family name (either may be absent; ``None`` if
        both are); an unknown family raises :class:`ConfigError`."""
        if pitch is None and family is None:
            return None
        if family is not None and family not in NSYNTH_FAMILIES:
            raise ConfigError(f"family '{family}' is not one of {', '.join(NSYNTH_FAMILIES)}")
        return cls(
            pitch=None if pitch is None else torch.tensor([pitch]),
            family=None if family is None else torch.tensor([NSYNTH_FAMILIES.index(family)]),
        )

    @property
    def known(self) -> bool:
        """Whether any grid has a known label (guidance has something to steer towards)."""
        return any(v is not None and bool((torch.as_tensor(v) >= 0).any()) for v in (self.pitch, self.family))

    def labels(self, batch: int, *, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(pitch, family), each (B,) int64 with -1 where unknown, validated."""
        return (
            _label(self.pitch, batch, NUM_PITCHES, "pitch", device),
            _label(self.family, batch, NUM_FAMILIES, "family", device),
        )


def _label(values: torch.Tensor | None, batch: int, size: int, what: str, device: torch.device) -> torch.Tensor:
    if values is None:
        return torch.full((batch,), -1, dtype=torch.long, device=device)
    values = torch.as_tensor(values, dtype=torch.long, device=device).reshape(-1)
    if values.numel() == 1:
        values = values.expand(batch)
    if values.numel() != batch:
        raise ConfigError(f"{what}: expected {batch} values (one per grid), got {values.numel()}")
    if bool(((values < -1) | (values >= size)).any()):
        raise ConfigError(f"{what}: values must be in 0-{size - 1} (or -1 for unknown), got {values.tolist()}")
    return values


@runtime_checkable
class Prior(Protocol):
    """A model of local code distributions on grids of one codebook; sampling columns ``[start, stop)`` of a
    grid reads the codes of the columns ``context_window(start, stop, width=W)`` only."""

    codebook_size: int
    default_temperature: float  # the temperature an edit samples at unless told otherwise (spectrolab.sampling)

    def context_window(self, start: int, stop: int, *, width: int) -> tuple[int, int]: ...

    def log_probs(
        self, grids: torch.Tensor, *, hidden: torch.Tensor | None = None, conditioning: Conditioning | None = None
    ) -> torch.Tensor: ...

    def log_prob(self, grids: torch.Tensor, *, conditioning: Conditioning | None = None) -> torch.Tensor: ...

    def hidden_log_prob(
        self, grids: torch.Tensor, hidden: torch.Tensor, *, conditioning: Conditioning | None = None
    ) -> torch.Tensor: ...

    def sample(
        self,
        grids: torch.Tensor,
        region: torch.Tensor,
        *,
        temperature: float = 1.0,
        steps: int = 8,
        generator: torch.Generator | None = None,
        conditioning: Conditioning | None = None,
        guidance: float = 1.0,
    ) -> torch.Tensor: ...


def columns_around(start: int, stop: int, *, context: int, width: int) -> tuple[int, int]:
    """Columns ``[start - context, stop + context)`` of a grid ``width`` columns wide, clipped to it."""
    return max(0, start - context), min(width, stop + context)


def check_sizes(*, codebook_size: int, height: int, **positive: float) -> None:
    """Raise :class:`ConfigError` unless codebook_size >= 2, height >= 1 and every other value is > 0."""
    bad = {k: v for k, v in positive.items() if not v > 0}
    if codebook_size < 2 or height < 1 or bad:
        raise ConfigError(
            f"need codebook_size >= 2, height >= 1 and positive {sorted(positive)}; got "
            f"codebook_size={codebook_size}, height={height}, {positive}"
        )


def check_grids(grids: torch.Tensor, codebook_size: int, *, height: int | None = None) -> torch.Tensor:
    """Validate a batch of code grids (B, H, W) against the codebook (and row count); returns it as int64."""
    if grids.dim() != 3:
        raise ConfigError(f"code grids must be (B, H, W), got shape {tuple(grids.shape)}")
    if grids.dtype.is_floating_point or grids.dtype == torch.bool:
        raise ConfigError(f"code grids must hold integers, got {grids.dtype}")
    if grids.numel() == 0:
        raise ConfigError(f"code grids are empty, shape {tuple(grids.shape)}")
    if height is not None and grids.shape[1] != height:
        raise ConfigError(f"this prior was fitted on grids of {height} rows, got {grids.shape[1]}")
    low, high = int(grids.min()), int(grids.max())
    if low < 0 or high >= codebook_size:
        raise ConfigError(f"codes must be in [0, {codebook_size}), got values in [{low}, {high}]")
    return grids.long()


def check_region(region: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
    """Validate a region mask against its grids: bool, same shape (B, H, W) or (H, W) broadcast over B."""
    if region.dtype != torch.bool:
        raise ConfigError(f"a region must be a bool mask, got {region.dtype}")
    if region.dim() == 2:
        region = region.expand_as(grids)
    if region.shape != grids.shape:
        raise ConfigError(f"region mask shape {tuple(region.shape)} does not match grids {tuple(grids.shape)}")
    return region.to(grids.device)


def check_sampling(*, temperature: float, steps: int, guidance: float = 1.0) -> None:
    """Raise :class:`ConfigError` unless temperature > 0, steps >= 1 and guidance >= 0."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ConfigError(f"temperature must be a positive number, got {temperature}")
    if steps < 1:
        raise ConfigError(f"need at least one sampling step/sweep, got {steps}")
    if not (math.isfinite(guidance) and guidance >= 0):
        raise ConfigError(f"guidance must be a number >= 0, got {guidance}")


def guided_conditioning(conditioning: Conditioning | None, guidance: float) -> Conditioning | None:
    """The labels a guided draw uses: none at all at guidance 0 (the unconditioned prior), else ``conditioning``."""
    return None if guidance == 0 else conditioning


def sample_codes(log_probs: torch.Tensor, *, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row of ``log_probs`` (..., K) from ``softmax(log_probs / temperature)`` -> (...,) int64.

    Inverse-CDF sampling: one uniform number per row, so a seeded ``generator`` fixes the draws.
    """
    probs = torch.softmax(log_probs.float() / temperature, dim=-1)
    cdf = probs.cumsum(dim=-1)
    uniform = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device)
    return torch.searchsorted(cdf, uniform * cdf[..., -1:]).squeeze(-1).clamp_max(cdf.shape[-1] - 1)


def gather_codes(log_probs: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
    """Pick each cell's own code from (B, H, W, K) log-probabilities -> (B, H, W)."""
    return log_probs.gather(-1, grids.unsqueeze(-1)).squeeze(-1)


def hidden_codes_log_prob(
    prior: Prior, grids: torch.Tensor, hidden: torch.Tensor, conditioning: Conditioning | None
) -> torch.Tensor:
    """(n,) log p of the codes of the ``n`` cells of ``hidden`` (B, H, W), row-major, given the visible cells:
    :meth:`Prior.log_probs` picked at those cells."""
    scores = gather_codes(prior.log_probs(grids, hidden=hidden, conditioning=conditioning), grids.long())
    return scores[check_region(hidden, grids)]


def lattice_log_prob(
    prior: Prior, grids: torch.Tensor, *, stride: int = 4, conditioning: Conditioning | None = None
) -> torch.Tensor:
    """(B, H, W) log p(code | the visible cells) of each cell, the cells of each lattice ``stride`` rows and
    columns apart hidden together: ``stride ** 2`` passes of ``prior.log_probs`` instead of one per cell.

    No two hidden cells are closer than ``stride`` (>= 2), so a prior of nearest neighbours (Naive Bayes) scores
    every cell exactly as :meth:`Prior.log_prob` does, and a prior of the whole grid (the Transformer) sees all
    but ``1 / stride ** 2`` of the other cells: a cheap and, for it, cautious estimate of the one-cell figure.
    """
    if stride < 2:
        raise ConfigError(f"lattice stride {stride}: need at least 2, so that hidden cells are never neighbours")
    batch, height, width = grids.shape
    rows = torch.arange(height, device=grids.device)[:, None] % stride
    cols = torch.arange(width, device=grids.device)[None, :] % stride
    out = torch.zeros(grids.shape, device=grids.device)
    for row in range(min(stride, height)):
        for col in range(min(stride, width)):
            hidden = ((rows == row) & (cols == col)).expand(batch, height, width)
            out[hidden] = prior.hidden_log_prob(grids, hidden, conditioning=conditioning).to(out.dtype)
    return out


def bits_per_code(
    prior: Prior,
    grids: torch.Tensor,
    *,
    conditioning: Conditioning | None = None,
    batch: int = 64,
    lattice: int | None = None,
) -> float:
    """Mean negative log2-likelihood per cell of ``grids`` (B, H, W) under ``prior.log_prob`` (lower is better),
    or with ``lattice`` under :func:`lattice_log_prob` of that stride; ``batch`` grids at a time (so that many
    grids fit in memory)."""
    pitch, family = (conditioning or Conditioning()).labels(grids.shape[0], device=grids.device)
    nats = torch.zeros((), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, grids.shape[0], batch):
            part = slice(start, start + batch)
            labels = Conditioning(pitch=pitch[part], family=family[part])
            if lattice is None:
                scores = prior.log_prob(grids[part], conditioning=labels)
            else:
                scores = lattice_log_prob(prior, grids[part], stride=lattice, conditioning=labels)
            nats += -scores.double().sum()
    return float(nats) / grids.numel() / math.log(2.0)

"""Naive Bayes over a cell's neighbourhood: p(code | neighbour codes, row, (pitch, row), family).

Each cell is one example; its class is its code and its categorical features are the codes at a configurable
set of offsets ``(d_row, d_col)`` (one more value where the offset falls outside the grid), its row index and,
when known, the grid's pitch jointly with the row (one value per pair: which codes a band holds depends on
where the note's harmonics fall, so a pitch alone says little about a cell) and the instrument family. With
``neighbour_vocab`` set, a neighbour's value is its code only for the ``neighbour_vocab`` codes most frequent
in the first fitted data and one shared "rare" value otherwise, which keeps the tables of large codebooks
small. Fitting counts (feature, value, class) triples with one scatter-add per batch of grids; probabilities
are additively smoothed and combined in log space, exactly as scikit-learn's ``CategoricalNB`` does with
``class_prior`` set to the smoothed class frequencies. A feature whose value is unknown (a hidden neighbour,
a missing label) is marginalised out, which in Naive Bayes means dropping its term. Sampling a region is
Gibbs sampling: cells coloured so that no two of one colour see each other are redrawn together, colour after
colour, ``steps`` sweeps, after an initial draw given the outside only.

Guidance: in Naive Bayes, ``log p(code | neighbours, labels) - log p(code | neighbours)`` is the labels' terms
``log p(pitch, row | code) + log p(family | code)`` up to a constant, so classifier-free guidance with scale
``s`` (``uncond + s * (cond - uncond)``) is exactly multiplying those two terms by ``s`` before normalising.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from spectrolab.errors import ConfigError, ModelError
from spectrolab.priors.base import (
    NUM_FAMILIES,
    NUM_PITCHES,
    Conditioning,
    check_grids,
    check_region,
    check_sampling,
    check_sizes,
    columns_around,
    gather_codes,
    guided_conditioning,
    hidden_codes_log_prob,
    sample_codes,
)
from spectrolab.sampling import DEFAULT_TEMPERATURES

# Neighbours in frequency (row -1, +1) and time (column -1, +1). On the default codec's grids they beat the
# eight surrounding cells by well over a bit per code (results/priors.md): Naive Bayes over-counts
# correlated neighbours.
FOUR_NEIGHBOURS: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))


def check_offsets(offsets: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """Validate neighbour offsets: integer pairs (d_row, d_col), not (0, 0), no repeats."""
    error = ConfigError(f"offsets must be distinct (d_row, d_col) pairs other than (0, 0), got {list(offsets)}")
    if not offsets or any(len(o) != 2 for o in offsets):
        raise error
    pairs = tuple((int(o[0]), int(o[1])) for o in offsets)
    if any(p == (0, 0) for p in pairs) or len(set(pairs)) != len(pairs):
        raise error
    return pairs


def neighbour_codes(
    grids: torch.Tensor,
    offsets: Sequence[tuple[int, int]],
    *,
    codebook_size: int,
    hidden: torch.Tensor | None = None,
) -> torch.Tensor:
    """The code at each offset of each cell -> (B, H, W, F).

    Offsets falling outside the grid give ``codebook_size``; offsets landing on a ``hidden`` cell give
    ``codebook_size + 1``.
    """
    if hidden is not None:
        grids = grids.masked_fill(hidden, codebook_size + 1)
    _, height, width = grids.shape
    pad_r = max(abs(dr) for dr, _ in offsets)
    pad_c = max(abs(dc) for _, dc in offsets)
    padded = nn.functional.pad(grids, (pad_c, pad_c, pad_r, pad_r), value=codebook_size)
    views = [padded[:, pad_r + dr : pad_r + dr + height, pad_c + dc : pad_c + dc + width] for dr, dc in offsets]
    return torch.stack(views, dim=-1)


def colour_classes(height: int, width: int, offsets: Sequence[tuple[int, int]]) -> torch.Tensor:
    """(H, W) colour index such that no cell's offset neighbour shares its colour (for parallel Gibbs): a
    checkerboard when every offset has an odd |d_row| + |d_col|, else colours by row and column residues."""
    if all((abs(dr) + abs(dc)) % 2 == 1 for dr, dc in offsets):
        return (torch.arange(height).view(-1, 1) + torch.arange(width).view(1, -1)) % 2
    span_r = max(abs(dr) for dr, _ in offsets) + 1
    span_c = max(abs(dc) for _, dc in offsets) + 1
    rows = torch.arange(height).view(-1, 1) % span_r
    cols = torch.arange(width).view(1, -1) % span_c
    return rows * span_c + cols


def log_table(counts: torch.Tensor, alpha: float) -> torch.Tensor:
    """Smoothed log p(value | class) from counts (V, K): log((n_vk + a) / (n_k + a V))."""
    smoothed = counts + alpha
    return smoothed.log() - smoothed.sum(dim=0, keepdim=True).log()


@dataclass(frozen=True)
class NaiveBayesTables:
    """All log p(value | class) tables stacked in ``table`` (R, K): each neighbour's V + 2 values (the last,
    "hidden", all zeros), the H rows, 128 H + 1 (pitch, row) pairs and 12 families (the last, "unknown",
    zeros); ``starts``
    (F + 3,) is where each feature's block begins; ``class_log_prior`` (K,)."""

    table: torch.Tensor
    starts: torch.Tensor
    class_log_prior: torch.Tensor

    def scores(self, features: torch.Tensor, *, guidance: float = 1.0) -> torch.Tensor:
        """Unnormalised log p(code, features) (N, K) from feature values (N, F + 3): neighbours, row, (pitch, row),
        family; the (pitch, row) and family terms multiplied by ``guidance`` (classifier-free guidance, see the
        module docstring)."""
        neighbours = len(self.starts) - 3
        return self.sum_rows(features[:, :neighbours]) + self.label_scores(features[:, neighbours:], guidance=guidance)

    def sum_rows(self, values: torch.Tensor, *, first: int = 0) -> torch.Tensor:
        """The sum (N, K) of the table rows of values (N, n) of the features ``first .. first + n - 1``."""
        index = values + self.starts[first : first + values.shape[1]]
        return nn.functional.embedding_bag(index, self.table, mode="sum")

    def label_scores(self, labels: torch.Tensor, *, guidance: float = 1.0) -> torch.Tensor:
        """The class prior plus the terms (N, K) of labels (N, 3): row, and ``guidance`` times (pitch, row) and
        family; what a cell's scores add to its neighbours' terms, the same at every Gibbs sweep."""
        row = len(self.starts) - 3
        steered = self.sum_rows(labels[:, 1:], first=row + 1)
        if guidance != 1.0:
            steered = steered * guidance
        return self.table[labels[:, 0] + self.starts[row]] + steered + self.class_log_prior


class _GibbsSweep:
    """The grids during Gibbs sampling, padded with the "outside" code ``K`` and flattened, with the flat
    positions of the region's cells (R,) and of their neighbours (R, F), so each update is two gathers."""

    def __init__(
        self, grids: torch.Tensor, region: torch.Tensor, offsets: Sequence[tuple[int, int]], *, codebook_size: int
    ) -> None:
        self.shape = grids.shape
        self.pad_r = max(abs(dr) for dr, _ in offsets)
        self.pad_c = max(abs(dc) for _, dc in offsets)
        padded = nn.functional.pad(grids, (self.pad_c, self.pad_c, self.pad_r, self.pad_r), value=codebook_size)
        self.flat = padded.reshape(-1).clone()
        self.padded_shape = padded.shape
        b, r, c = region.nonzero(as_tuple=True)
        rows, cols = padded.shape[1], padded.shape[2]
        self.cells = (b * rows + r + self.pad_r) * cols + c + self.pad_c
        steps = torch.tensor([dr * cols + dc for dr, dc in offsets], device=grids.device)
        self.around = self.cells[:, None] + steps

    def neighbours(self, group: torch.Tensor) -> torch.Tensor:
        """Current codes (N, F) at the offsets of the region cells ``group`` (N,) (indices into the region)."""
        return self.flat[self.around[group]]

    def set(self, group: torch.Tensor, codes: torch.Tensor) -> None:
        self.flat[self.cells[group]] = codes

    def grids(self) -> torch.Tensor:
        """The current grids (B, H, W)."""
        padded = self.flat.view(self.padded_shape)
        return padded[:, self.pad_r : self.pad_r + self.shape[1], self.pad_c : self.pad_c + self.shape[2]].clone()


_COUNTS = ("class_counts", "neighbour_counts", "row_counts", "pitch_counts", "family_counts")


def varint_encode(values: torch.Tensor) -> torch.Tensor:
    """Non-negative integers (N,) as LEB128 bytes (uint8): 7 bits a byte, low bits first, the high bit set on
    every byte but a value's last; small values take one byte."""
    values = values.long().reshape(-1)
    if bool((values < 0).any()):
        raise ValueError("varint_encode takes non-negative integers")
    sizes = torch.ones_like(values)
    while True:  # bytes each value needs: grow those that do not fit yet
        short = (values >> (7 * sizes)) > 0
        if not bool(short.any()):
            break
        sizes = sizes + short.long()
    k = torch.arange(int(sizes.max()) if values.numel() else 1)
    chunks = (values[:, None] >> (7 * k)) & 0x7F
    more = k[None, :] < sizes[:, None] - 1
    used = k[None, :] < sizes[:, None]
    return (chunks | (more.long() << 7))[used].to(torch.uint8)


def varint_decode(data: torch.Tensor) -> torch.Tensor:
    """The integers (N,) int64 of :func:`varint_encode`'s bytes."""
    data = data.long().reshape(-1)
    last = (data & 0x80) == 0
    group = torch.cumsum(last.long(), 0) - last.long()  # which value each byte belongs to
    starts = torch.nonzero(torch.cat([torch.tensor([True]), last[:-1]])).squeeze(1)
    position = torch.arange(data.numel()) - starts[group]
    out = torch.zeros(int(last.sum()), dtype=torch.long)
    return out.index_add_(0, group, (data & 0x7F) << (7 * position))


def _sparse_counts(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """State-dict hook: store each count table as the gaps between its non-zero flat positions and their
    counts, both as varint bytes (:func:`varint_encode`), about 2.5 bytes a non-zero count, which keeps the
    saved tables of a large codebook a few MB; :func:`_dense_counts` restores them on loading."""
    for name in _COUNTS:
        dense = state_dict.pop(prefix + name).reshape(-1).round().long()
        index = dense.nonzero().squeeze(1)
        gaps = torch.diff(index, prepend=torch.tensor([-1], device=index.device))
        state_dict[f"{prefix}{name}_gaps"] = varint_encode(gaps.cpu())
        state_dict[f"{prefix}{name}_counts"] = varint_encode(dense[index].cpu())


def _dense_counts(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
    """Load-state-dict pre-hook: rebuild each dense count table of ``module`` from its varint form."""
    for name in _COUNTS:
        gaps, counts = state_dict.pop(f"{prefix}{name}_gaps", None), state_dict.pop(f"{prefix}{name}_counts", None)
        if gaps is not None and counts is not None:
            target = getattr(module, name)
            dense = torch.zeros(target.numel(), dtype=target.dtype)
            dense[torch.cumsum(varint_decode(gaps), 0) - 1] = varint_decode(counts).to(target.dtype)
            state_dict[prefix + name] = dense.view_as(target).to(target.device)


def _add_counts(counts: torch.Tensor, flat_index: torch.Tensor) -> None:
    """Add one to ``counts`` at each flat index, in place (a scatter-add: no dense temporary)."""
    flat_index = flat_index.reshape(-1)
    counts.view(-1).index_add_(0, flat_index, torch.ones(flat_index.shape, dtype=counts.dtype, device=counts.device))


def _with_zero_row(table: torch.Tensor) -> torch.Tensor:
    return torch.cat([table, torch.zeros_like(table[..., :1, :])], dim=-2)


class NaiveBayesPrior(nn.Module):
    """Categorical Naive Bayes over neighbour codes, row, (pitch, row) and family; additive smoothing ``alpha``.

    Buffers hold counts: ``class_counts`` (K,), ``neighbour_counts`` (F, V + 1, K), ``row_counts`` (H, K),
    ``pitch_counts`` (128 H, K) (value ``pitch * H + row``), ``family_counts`` (11, K), value-major, class last;
    and ``neighbour_values`` (K,), the neighbour value (0..V-1) of each code, ``V`` being ``K`` or
    ``neighbour_vocab + 1``.
    """

    default_temperature = DEFAULT_TEMPERATURES["nb"]
    neighbour_values: torch.Tensor
    class_counts: torch.Tensor
    neighbour_counts: torch.Tensor
    row_counts: torch.Tensor
    pitch_counts: torch.Tensor
    family_counts: torch.Tensor

    def __init__(
        self,
        *,
        codebook_size: int,
        height: int,
        offsets: Sequence[Sequence[int]] = FOUR_NEIGHBOURS,
        alpha: float = 1.0,
        neighbour_vocab: int | None = None,
    ) -> None:
        super().__init__()
        check_sizes(codebook_size=codebook_size, height=height, alpha=alpha)
        if neighbour_vocab is not None and not 1 <= neighbour_vocab < codebook_size:
            raise ConfigError(f"neighbour_vocab must be in 1..{codebook_size - 1} or None, got {neighbour_vocab}")
        self.codebook_size = codebook_size
        self.height = height
        self.offsets = check_offsets(offsets)
        self.alpha = float(alpha)
        self.neighbour_vocab = neighbour_vocab
        k = codebook_size
        self.num_values = k if neighbour_vocab is None else neighbour_vocab + 1
        self.register_buffer("neighbour_values", torch.arange(k) if neighbour_vocab is None else torch.zeros(k).long())
        self.register_buffer("class_counts", torch.zeros(k))
        self.register_buffer("neighbour_counts", torch.zeros(len(self.offsets), self.num_values + 1, k))
        self.register_buffer("row_counts", torch.zeros(height, k))
        self.register_buffer("pitch_counts", torch.zeros(NUM_PITCHES * height, k))
        self.register_buffer("family_counts", torch.zeros(NUM_FAMILIES, k))
        self._cache: tuple[int, NaiveBayesTables] | None = None
        self.register_state_dict_post_hook(_sparse_counts)
        self.register_load_state_dict_pre_hook(_dense_counts)

    def context_window(self, start: int, stop: int, *, width: int) -> tuple[int, int]:
        """The columns sampling ``[start, stop)`` reads: its neighbours' reach either side."""
        return columns_around(start, stop, context=max(abs(dc) for _, dc in self.offsets), width=width)

    def _rows(self, grids: torch.Tensor) -> torch.Tensor:
        return torch.arange(self.height, device=grids.device).view(1, -1, 1).expand_as(grids)

    def _labels(self, grids: torch.Tensor, conditioning: Conditioning | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-cell (pitch, row) value ``pitch * H + row`` and family (B, H, W), -1 where unknown."""
        pitch, family = (conditioning or Conditioning()).labels(grids.shape[0], device=grids.device)
        pitch = pitch.view(-1, 1, 1).expand_as(grids)
        pitch_row = torch.where(pitch >= 0, pitch * self.height + self._rows(grids), -1)
        return pitch_row, family.view(-1, 1, 1).expand_as(grids)

    @torch.no_grad()
    def fit(
        self, grids: torch.Tensor, *, conditioning: Conditioning | None = None, batch: int = 4096
    ) -> NaiveBayesPrior:
        """Add every cell of ``grids`` (B, H, W) to the counts (labels counted where known), ``batch`` grids at
        a time (the features of every cell at once would take GBs); returns self."""
        grids = check_grids(grids, self.codebook_size, height=self.height)
        if self.neighbour_vocab is not None and float(self.class_counts.sum()) == 0:
            self._choose_vocab(grids.reshape(-1))
        pitch, family = (conditioning or Conditioning()).labels(grids.shape[0], device=grids.device)
        for start in range(0, grids.shape[0], batch):
            part = slice(start, start + batch)
            self._count(grids[part], Conditioning(pitch=pitch[part], family=family[part]))
        self._cache = None
        return self

    def _count(self, grids: torch.Tensor, conditioning: Conditioning) -> None:
        k = self.codebook_size
        codes = grids.reshape(-1)
        neighbours = self._neighbour_features(grids, None).reshape(codes.numel(), -1)
        feature = torch.arange(len(self.offsets), device=grids.device)
        _add_counts(self.neighbour_counts, ((feature * (self.num_values + 1) + neighbours) * k + codes[:, None]))
        _add_counts(self.class_counts, codes)
        _add_counts(self.row_counts, self._rows(grids).reshape(-1) * k + codes)
        pitch, family = self._labels(grids, conditioning)
        for counts, labels in ((self.pitch_counts, pitch.reshape(-1)), (self.family_counts, family.reshape(-1))):
            known = labels >= 0
            _add_counts(counts, labels[known] * k + codes[known])

    def _choose_vocab(self, codes: torch.Tensor) -> None:
        """Give the ``neighbour_vocab`` most frequent codes values 0..vocab-1 and every other code the value vocab."""
        assert self.neighbour_vocab is not None
        frequent = torch.bincount(codes, minlength=self.codebook_size).argsort(descending=True, stable=True)
        values = torch.full_like(self.neighbour_values, self.neighbour_vocab)
        values[frequent[: self.neighbour_vocab]] = torch.arange(self.neighbour_vocab, device=values.device)
        self.neighbour_values.copy_(values)

    def _neighbour_features(self, grids: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:
        """Neighbour values (B, H, W, F): 0..V-1 codes, V outside the grid, V + 1 hidden."""
        codes = neighbour_codes(grids, self.offsets, codebook_size=self.codebook_size, hidden=hidden)
        extra = torch.arange(self.num_values, self.num_values + 2, device=grids.device)
        return torch.cat([self.neighbour_values, extra])[codes]

    def tables(self) -> NaiveBayesTables:
        """The smoothed log-probability tables (recomputed only after the counts change)."""
        total = float(self.class_counts.sum())
        if total == 0:
            raise ModelError("this Naive Bayes prior has not been fitted (all counts are zero)")
        version = sum(t._version for t in self.buffers())
        if self._cache is None or self._cache[0] != version:
            smoothed = self.class_counts + self.alpha
            blocks = [_with_zero_row(log_table(c, self.alpha)) for c in self.neighbour_counts]
            blocks += [log_table(self.row_counts, self.alpha)]
            blocks += [_with_zero_row(log_table(c, self.alpha)) for c in (self.pitch_counts, self.family_counts)]
            sizes = torch.tensor([0] + [len(b) for b in blocks[:-1]], device=smoothed.device)
            tables = NaiveBayesTables(
                table=torch.cat(blocks), starts=sizes.cumsum(0), class_log_prior=smoothed.log() - smoothed.sum().log()
            )
            self._cache = (version, tables)
        return self._cache[1]

    def _features(
        self, grids: torch.Tensor, hidden: torch.Tensor | None, conditioning: Conditioning | None
    ) -> torch.Tensor:
        """Feature values (B, H, W, F + 3): neighbours, row, (pitch, row), family; unknowns point at the zero rows."""
        pitch_row, family = self._labels(grids, conditioning)
        labels = [self._rows(grids), pitch_row % (NUM_PITCHES * self.height + 1), family % (NUM_FAMILIES + 1)]
        return torch.cat([self._neighbour_features(grids, hidden), torch.stack(labels, dim=-1)], dim=-1)

    def log_probs(
        self, grids: torch.Tensor, *, hidden: torch.Tensor | None = None, conditioning: Conditioning | None = None
    ) -> torch.Tensor:
        """(B, H, W, K) log p(code | visible neighbours, row, known labels) at every cell."""
        grids = check_grids(grids, self.codebook_size, height=self.height)
        if hidden is not None:
            hidden = check_region(hidden, grids)
        features = self._features(grids, hidden, conditioning)
        scores = self.tables().scores(features.reshape(-1, features.shape[-1]))
        return torch.log_softmax(scores, dim=-1).view(*grids.shape, self.codebook_size)

    def log_prob(self, grids: torch.Tensor, *, conditioning: Conditioning | None = None) -> torch.Tensor:
        """(B, H, W) log p(code | neighbours, row, labels) of each cell, in nats."""
        return gather_codes(self.log_probs(grids, conditioning=conditioning), grids.long())

    def hidden_log_prob(
        self, grids: torch.Tensor, hidden: torch.Tensor, *, conditioning: Conditioning | None = None
    ) -> torch.Tensor:
        """(n,) log p of the codes of the cells of ``hidden`` (B, H, W), row-major, given the visible cells."""
        return hidden_codes_log_prob(self, grids, hidden, conditioning)

    @torch.no_grad()
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
    ) -> torch.Tensor:
        """Gibbs-resample the cells of ``region`` (B, H, W) bool for ``steps`` sweeps; other cells are kept;
        ``guidance`` scales the labels' terms (see the module docstring)."""
        check_sampling(temperature=temperature, steps=steps, guidance=guidance)
        grids = check_grids(grids, self.codebook_size, height=self.height)
        region = check_region(region, grids)
        tables = self.tables()
        conditioning = guided_conditioning(conditioning, guidance)
        if conditioning is None or not conditioning.known:
            guidance = 1.0  # no label to steer towards: the plain (and cheaper) scores
        features = self._features(grids, region, conditioning)[region]
        neighbours = len(self.offsets)
        # The row and label terms of a cell do not change between sweeps: summed once, with the class prior.
        fixed = tables.label_scores(features[:, neighbours:], guidance=guidance)

        def draw(values: torch.Tensor, cells: torch.Tensor | slice) -> torch.Tensor:
            scores = tables.sum_rows(values) + fixed[cells]
            return sample_codes(scores, temperature=temperature, generator=generator)

        current = grids.clone()
        current[region] = draw(features[:, :neighbours], slice(None))
        sweep = _GibbsSweep(current, region, self.offsets, codebook_size=self.codebook_size)
        value_of = torch.cat([self.neighbour_values, torch.tensor([self.num_values], device=grids.device)])
        colours = colour_classes(grids.shape[1], grids.shape[2], self.offsets).to(grids.device)[None].expand_as(region)
        groups = [
            group for c in range(int(colours.max()) + 1) if (group := (colours[region] == c).nonzero()[:, 0]).numel()
        ]
        for _ in range(steps):
            for group in groups:
                sweep.set(group, draw(value_of[sweep.neighbours(group)], group))
        return sweep.grids()

"""Masked-code Transformer over a code grid, conditioned on the visible codes and optionally pitch and family.

The grid (B, H, W) is flattened to H * W tokens; hidden cells hold a MASK token (id ``K``). Each token is the
sum of its code embedding and learned row and column embeddings (a factorised 2-D position embedding). One
extra leading token carries pitch and family embeddings (their last index meaning "unknown"). A pre-norm
Transformer encoder reads them and a linear head predicts, at every cell, logits over the ``K`` codes.
Training (see ``spectrolab.training.prior``) hides random rectangles and random cell sets and scores the hidden
cells. Sampling a region is MaskGIT's iterative unmasking: all region cells start hidden; each step draws
every hidden cell, keeps the most confident draws and hides the rest again, on a cosine schedule.

The network sees at most ``max_width`` columns (4 s for the shipped prior). Longer grids are edited through a
window of ``max_width`` columns around the region, centred on it where the grid allows, the cells outside the
window playing no part and those inside it but outside the region fixed context; a region wider than the
window is resampled half a window at a time, left to right, each part seeing the parts drawn before it.
Scores (``log_probs``, ``log_prob``) of longer grids come from overlapping windows, each column's from the
window it is most central in.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from spectrolab.errors import ConfigError
from spectrolab.models.precision import BFloat16Copies, Precision, uses_bfloat16
from spectrolab.priors.base import (
    NUM_FAMILIES,
    NUM_PITCHES,
    Conditioning,
    check_grids,
    check_region,
    check_sampling,
    check_sizes,
    guided_conditioning,
    hidden_codes_log_prob,
    sample_codes,
)
from spectrolab.sampling import DEFAULT_TEMPERATURES


def centred_window(start: int, stop: int, *, width: int, max_width: int) -> tuple[int, int]:
    """Columns ``[a, b)`` of a window of ``min(width, max_width)`` columns holding ``[start, stop)``, centred on it
    where the grid's edges allow; needs ``stop - start <= max_width``."""
    size = min(width, max_width)
    if stop - start > size:
        raise ConfigError(f"columns {start}:{stop} do not fit in a window of {size}")
    first = min(max((start + stop - size) // 2, 0), width - size)
    return first, first + size


def edit_windows(start: int, stop: int, *, width: int, max_width: int) -> list[tuple[int, int, int, int]]:
    """How :meth:`MaskedCodeTransformer.sample` edits columns ``[start, stop)`` of a grid ``width`` columns wide:
    a list of ``(part_start, part_stop, window_start, window_stop)``, one window if the columns fit in one, else
    parts of half a window, left to right, each in the window centred on it."""
    size = stop - start if stop - start <= max_width else max(1, max_width // 2)
    parts = [(a, min(a + size, stop)) for a in range(start, stop, size)]
    return [(a, b, *centred_window(a, b, width=width, max_width=max_width)) for a, b in parts]


def score_windows(width: int, max_width: int) -> list[tuple[int, int, int, int]]:
    """Overlapping windows scoring a grid ``width`` columns wide: ``(window_start, window_stop, keep_start,
    keep_stop)``, each keeping the columns it is the most central window for; together they keep every column."""
    if width <= max_width:
        return [(0, width, 0, width)]
    hop = max(1, max_width // 2)
    starts = [*range(0, width - max_width, hop), width - max_width]
    centres = [a + max_width / 2 for a in starts]
    edges = [0, *(math.floor((a + b) / 2) for a, b in itertools.pairwise(centres)), width]
    return [(a, a + max_width, edges[i], edges[i + 1]) for i, a in enumerate(starts)]


class MaskedCodeTransformer(nn.Module):
    """Bidirectional Transformer predicting hidden codes of a (B, H, W) grid; ``forward`` -> (B, H, W, K) logits.

    Cells are grouped into ``patch`` = (rows, columns) patches, one token each (the sum of its cells' code and
    within-patch position embeddings), which divides the sequence length by the patch area; a linear layer
    maps each output token back to one feature vector per cell, and a shared head gives each cell's logits.
    Grids are padded with hidden cells up to whole patches.
    """

    default_temperature = DEFAULT_TEMPERATURES["transformer"]

    def __init__(
        self,
        *,
        codebook_size: int,
        height: int,
        max_width: int,
        d_model: int = 128,
        num_layers: int = 3,
        num_heads: int = 4,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        patch: Sequence[int] = (2, 2),
    ) -> None:
        super().__init__()
        check_sizes(codebook_size=codebook_size, height=height, max_width=max_width, d_model=d_model)
        if len(patch) != 2 or min(patch) < 1:
            raise ConfigError(f"patch must be two positive sizes (rows, columns), got {list(patch)}")
        self.codebook_size = codebook_size
        self.height = height
        self.max_width = max_width
        self.patch = (int(patch[0]), int(patch[1]))
        self.mask_token = codebook_size
        area = self.patch[0] * self.patch[1]
        self.code_embedding = nn.Embedding(codebook_size + 1, d_model)
        self.cell_embedding = nn.Parameter(torch.randn(area, d_model) * 0.02)
        self.row_embedding = nn.Embedding(-(-height // self.patch[0]), d_model)
        self.col_embedding = nn.Embedding(-(-max_width // self.patch[1]), d_model)
        self.pitch_embedding = nn.Embedding(NUM_PITCHES + 1, d_model)
        self.family_embedding = nn.Embedding(NUM_FAMILIES + 1, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, num_heads, dim_feedforward, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.unpatch = nn.Linear(d_model, area * d_model)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, codebook_size)
        # Inference runs the encoder layers in bfloat16 where the CPU has it (spectrolab.models.precision).
        self.precision: Precision = "auto"
        self._bfloat16 = BFloat16Copies()

    @property
    def uses_bfloat16(self) -> bool:
        """Whether inference (eval mode, no gradients) runs the encoder layers in bfloat16."""
        return uses_bfloat16(self.precision, self.head.weight.device)

    def context_window(self, start: int, stop: int, *, width: int) -> tuple[int, int]:
        """The columns sampling ``[start, stop)`` reads: the windows :meth:`sample` attends to (see
        :func:`edit_windows`), from the first's start to the last's stop."""
        windows = edit_windows(start, stop, width=width, max_width=self.max_width)
        return windows[0][2], windows[-1][3]

    def _tokens_out(self, tokens: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (B, rows, cols, d), one per patch, from tokens (B, H, W) and labels (B,)."""
        batch, height, width = tokens.shape
        if height != self.height or width > self.max_width:
            raise ConfigError(
                f"grid of {height} x {width} cells; this transformer takes {self.height} rows and"
                f" at most {self.max_width} columns"
            )
        pr, pc = self.patch
        rows, cols = -(-height // pr), -(-width // pc)
        padded = nn.functional.pad(tokens, (0, cols * pc - width, 0, rows * pr - height), value=self.mask_token)
        x = self.code_embedding(padded).view(batch, rows, pr, cols, pc, -1).permute(0, 1, 3, 2, 4, 5)
        x = (x.reshape(batch, rows, cols, pr * pc, -1) + self.cell_embedding).sum(dim=3)
        x = x + self.row_embedding.weight[:, None, :] + self.col_embedding.weight[None, :cols, :]
        label = self.pitch_embedding(pitch % (NUM_PITCHES + 1)) + self.family_embedding(family % (NUM_FAMILIES + 1))
        sequence = torch.cat([label[:, None, :], x.reshape(batch, rows * cols, -1)], dim=1)
        x = self._bfloat16.run("encoder", self.encoder, sequence, enabled=self.uses_bfloat16)[:, 1:]
        return x.view(batch, rows, cols, -1)

    def features(self, tokens: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Per-cell features (B, H, W, d) from tokens (B, H, W) (``K`` = hidden), pitch, family (B,) (-1 unknown)."""
        batch, height, width = tokens.shape
        x = self._tokens_out(tokens, pitch, family)
        rows, cols = x.shape[1], x.shape[2]
        pr, pc = self.patch
        x = self.unpatch(x).view(batch, rows, cols, pr, pc, -1).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(batch, rows * pr, cols * pc, -1)[:, :height, :width]

    def cell_features(
        self, tokens: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor, cell: torch.Tensor
    ) -> torch.Tensor:
        """The feature (B, d) of one cell per grid, ``cell`` (B,) flat indices ``row * W + column``: what
        :meth:`features` gives there, unpatching only that cell's patch."""
        width = tokens.shape[2]
        x = self._tokens_out(tokens, pitch, family)
        pr, pc = self.patch
        row, col = cell // width, cell % width
        patch = x[torch.arange(x.shape[0], device=x.device), row // pr, col // pc]
        weight = self.unpatch.weight.view(pr * pc, -1, self.unpatch.in_features)
        bias = self.unpatch.bias.view(pr * pc, -1)
        within = (row % pr) * pc + col % pc
        return torch.einsum("bi,boi->bo", patch, weight[within]) + bias[within]

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (..., K) from per-cell features (..., d)."""
        return self.head(self.norm(features))

    def forward(self, tokens: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Logits (B, H, W, K) from tokens (B, H, W) (``K`` = hidden) and pitch, family (B,) (-1 = unknown)."""
        return self.logits(self.features(tokens, pitch, family))

    def _logits(
        self,
        grids: torch.Tensor,
        hidden: torch.Tensor | None,
        conditioning: Conditioning | None,
        *,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """Logits (B, H, W, K) through the scoring windows, guided as :meth:`_guided` says."""
        tokens = grids if hidden is None else grids.masked_fill(hidden, self.mask_token)
        return self._guided(self._window_logits, tokens, conditioning, guidance=guidance)

    def _hidden_logits(
        self, grids: torch.Tensor, hidden: torch.Tensor, conditioning: Conditioning | None, *, guidance: float
    ) -> torch.Tensor:
        """Logits (n, K) of the ``n`` hidden cells of grids (B, H, W) at most ``max_width`` wide, in row-major
        order: what :meth:`_logits` gives there, the head run on those cells only."""

        def hidden_logits(tokens: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
            cells = hidden.repeat(tokens.shape[0] // hidden.shape[0], 1, 1)  # both halves of a guided batch
            return self.logits(self.features(tokens, pitch, family)[cells])

        tokens = grids.masked_fill(hidden, self.mask_token)
        return self._guided(hidden_logits, tokens, conditioning, guidance=guidance)

    def _guided(
        self,
        logits_of: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
        tokens: torch.Tensor,
        conditioning: Conditioning | None,
        *,
        guidance: float,
    ) -> torch.Tensor:
        """``logits_of(tokens, pitch, family)``; with ``guidance`` other than 1 and a known label,
        classifier-free guidance ``uncond + guidance * (cond - uncond)`` (one pass over both label sets, the
        conditioned half first)."""
        pitch, family = (conditioning or Conditioning()).labels(tokens.shape[0], device=tokens.device)
        if guidance == 1.0 or conditioning is None or not conditioning.known:
            return logits_of(tokens, pitch, family)
        unknown = torch.full_like(pitch, -1)
        both = logits_of(torch.cat([tokens, tokens]), torch.cat([pitch, unknown]), torch.cat([family, unknown]))
        cond, uncond = both.chunk(2)
        return uncond + guidance * (cond - uncond)

    def _window_logits(self, tokens: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Logits (B, H, W, K) of tokens (B, H, W) of any width, each column from its scoring window."""
        parts = [
            self(tokens[..., a:b], pitch, family)[:, :, keep_a - a : keep_b - a]
            for a, b, keep_a, keep_b in score_windows(tokens.shape[-1], self.max_width)
        ]
        return torch.cat(parts, dim=2)

    def log_probs(
        self, grids: torch.Tensor, *, hidden: torch.Tensor | None = None, conditioning: Conditioning | None = None
    ) -> torch.Tensor:
        """(B, H, W, K) log p(code | the cells not hidden) at every cell; meaningful where ``hidden`` is set."""
        grids = check_grids(grids, self.codebook_size, height=self.height)
        if hidden is not None:
            hidden = check_region(hidden, grids)
        return torch.log_softmax(self._logits(grids, hidden, conditioning), dim=-1)

    @torch.no_grad()
    def log_prob(
        self, grids: torch.Tensor, *, conditioning: Conditioning | None = None, chunk: int = 256
    ) -> torch.Tensor:
        """(B, H, W) log p(code | every other cell), each cell hidden alone in turn.

        The (grid, cell) pairs of the whole batch are scored ``chunk`` at a time, one sequence each, and only the
        hidden cell's feature is unpatched and scored (:meth:`cell_features`).
        """
        grids = check_grids(grids, self.codebook_size, height=self.height)
        if grids.shape[-1] > self.max_width:
            parts = [
                self.log_prob(grids[..., a:b], conditioning=conditioning, chunk=chunk)[..., keep_a - a : keep_b - a]
                for a, b, keep_a, keep_b in score_windows(grids.shape[-1], self.max_width)
            ]
            return torch.cat(parts, dim=-1)
        batch, height, width = grids.shape
        cells = height * width
        pitch, family = (conditioning or Conditioning()).labels(batch, device=grids.device)
        flat = grids.reshape(batch, cells)
        out = torch.empty(batch * cells, device=grids.device)
        for start in range(0, batch * cells, chunk):
            pair = torch.arange(start, min(start + chunk, batch * cells), device=grids.device)
            grid, cell = pair // cells, pair % cells
            n = pair.numel()
            tokens = flat[grid]
            tokens[torch.arange(n), cell] = self.mask_token
            features = self.cell_features(tokens.view(n, height, width), pitch[grid], family[grid], cell)
            logp = torch.log_softmax(self.logits(features), dim=-1)
            out[start : start + n] = logp.gather(-1, flat[grid, cell][:, None])[:, 0]
        return out.view(batch, height, width)

    @torch.no_grad()
    def hidden_log_prob(
        self, grids: torch.Tensor, hidden: torch.Tensor, *, conditioning: Conditioning | None = None
    ) -> torch.Tensor:
        """(n,) log p of the codes of the cells of ``hidden`` (B, H, W), row-major, given the visible cells: the
        head runs on those cells only (grids at most ``max_width`` wide; wider ones through :meth:`log_probs`)."""
        grids = check_grids(grids, self.codebook_size, height=self.height)
        hidden = check_region(hidden, grids)
        if grids.shape[-1] > self.max_width:
            return hidden_codes_log_prob(self, grids, hidden, conditioning)
        logp = torch.log_softmax(self._hidden_logits(grids, hidden, conditioning, guidance=1.0), dim=-1)
        return logp.gather(-1, grids.long()[hidden][:, None])[:, 0]

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
        """Iteratively unmask the cells of ``region`` (B, H, W) bool in ``steps`` steps; other cells are kept.

        Grids wider than ``max_width`` are edited through windows around the region (see the module docstring).
        ``guidance`` other than 0 and 1 costs a second (unconditioned) pass per step where a label is known.
        """
        check_sampling(temperature=temperature, steps=steps, guidance=guidance)
        grids = check_grids(grids, self.codebook_size, height=self.height)
        region = check_region(region, grids)
        unmask = functools.partial(
            self._unmask,
            temperature=temperature,
            steps=steps,
            generator=generator,
            conditioning=guided_conditioning(conditioning, guidance),
            guidance=guidance,
        )
        width = grids.shape[-1]
        if width <= self.max_width:
            return unmask(grids, region)
        columns = region.any(dim=1).any(dim=0).nonzero()[:, 0]
        if columns.numel() == 0:
            return grids.clone()
        current, remaining = grids.clone(), region.clone()
        start, stop = int(columns[0]), int(columns[-1]) + 1
        for a, b, first, last in edit_windows(start, stop, width=width, max_width=self.max_width):
            drawn = unmask(current[..., first:last], remaining[..., first:last])
            part = remaining[..., a:b]
            current[..., a:b] = torch.where(part, drawn[..., a - first : b - first], current[..., a:b])
            remaining[..., a:b] = False
        return current

    def _unmask(
        self,
        grids: torch.Tensor,
        region: torch.Tensor,
        *,
        temperature: float,
        steps: int,
        generator: torch.Generator | None,
        conditioning: Conditioning | None,
        guidance: float,
    ) -> torch.Tensor:
        """MaskGIT's iterative unmasking of the cells of ``region`` in grids at most ``max_width`` wide."""
        current = grids.clone(memory_format=torch.contiguous_format)
        hidden = region.clone(memory_format=torch.contiguous_format)
        batch = grids.shape[0]
        total = hidden.view(batch, -1).sum(dim=1)
        for step in range(steps):
            # Only the hidden cells are scored and drawn (a region is a fraction of the window's cells).
            logp = torch.log_softmax(self._hidden_logits(current, hidden, conditioning, guidance=guidance), dim=-1)
            drawn_hidden = sample_codes(logp, temperature=temperature, generator=generator)
            drawn = current.masked_scatter(hidden, drawn_hidden)
            still_hidden = torch.floor(total * math.cos(math.pi / 2 * (step + 1) / steps)).long()
            reveal = hidden.view(batch, -1).sum(dim=1) - still_hidden
            scores = logp.gather(-1, drawn_hidden[:, None])[:, 0]
            confidence = torch.full(hidden.shape, -math.inf, device=logp.device).masked_scatter(hidden, scores)
            confidence = confidence.view(batch, -1)
            noise = torch.rand(confidence.shape, generator=generator, device=confidence.device)
            confidence = confidence - temperature * (1 - (step + 1) / steps) * torch.log(-torch.log(noise + 1e-20))
            confidence = confidence.masked_fill(~hidden.view(batch, -1), -math.inf)
            order = confidence.argsort(dim=1, descending=True, stable=True)
            positions = torch.arange(order.shape[1], device=order.device).expand_as(order)
            ranks = torch.empty_like(order).scatter_(1, order, positions)
            chosen = (ranks < reveal[:, None]).view_as(hidden) & hidden
            current = torch.where(chosen, drawn, current)
            hidden = hidden & ~chosen
        return current

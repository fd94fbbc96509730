"""Vector quantisation with codebook care: EMA updates, k-means initialisation and dead-code restarts.

The layer maps each C-dimensional vector of a (B, C, H, W) tensor to its nearest codebook entry (squared
Euclidean distance) and passes gradients straight through (van den Oord et al. 2017). The codebook learns
either by gradient (codebook loss) or, by default, by exponential moving averages of the vectors assigned to
each code (VQ-VAE-2). Codes whose EMA usage falls below ``restart_threshold`` are moved onto random encoder
outputs of the current batch (Jukebox); the first training batch can initialise the codebook by k-means.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spectrolab.errors import ConfigError


@dataclass
class QuantizerOutput:
    """What :class:`VectorQuantizer` returns.

    Attributes:
        quantized: (B, C, H, W) codebook vectors, with straight-through gradients to the input.
        codes: int64 (B, H, W) indices into the codebook.
        codebook_loss: ``mse(codebook[codes], sg(x))``; trains the codebook when it is not EMA-updated.
        commitment_loss: ``mse(x, sg(codebook[codes]))``; pulls encoder outputs towards their codes.
        perplexity: exp of the entropy of the code histogram of this batch (K when all codes are used evenly).
        dead_codes: number of codes whose EMA usage is below the restart threshold.
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor
    dead_codes: int


def nearest_codes(vectors: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row for each vector: (N, D), (K, D) -> int64 (N,)."""
    # argmin |v - c|^2 = argmax (v . c - |c|^2 / 2): |v|^2 is the same for every code.
    scores = torch.addmm(codebook.pow(2).sum(1).mul(-0.5), vectors, codebook.t()).detach()
    if scores.device.type == "cpu" and scores.dtype in (torch.float32, torch.float64):
        # numpy's row argmax is about 10x torch's on one CPU thread (0.09 against 1.2 ms for 512 x 1024 codes,
        # measured on this project's CPUs); both return the first of tied maxima, and NaN counts as the maximum.
        return torch.from_numpy(scores.numpy().argmax(1))
    return scores.argmax(1)


def kmeans(
    vectors: torch.Tensor, num_clusters: int, *, iters: int = 10, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means from random rows: (N, D) -> centroids (K, D), cluster sizes (K,).

    Empty clusters keep their previous centroid. With fewer vectors than clusters, rows are drawn with
    replacement.
    """
    n = vectors.shape[0]
    if n >= num_clusters:
        start = torch.randperm(n, generator=generator, device="cpu")[:num_clusters]
    else:
        start = torch.randint(n, (num_clusters,), generator=generator, device="cpu")
    centroids = vectors[start.to(vectors.device)].clone()
    counts = torch.zeros(num_clusters, device=vectors.device)
    for _ in range(iters):
        assign = nearest_codes(vectors, centroids)
        counts = torch.bincount(assign, minlength=num_clusters).to(vectors.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, vectors)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids, counts


def perplexity(codes: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """exp(entropy) of the empirical code distribution of ``codes`` (any shape)."""
    probs = torch.bincount(codes.flatten(), minlength=codebook_size).float() / max(codes.numel(), 1)
    return torch.exp(-(probs * probs.clamp_min(1e-12).log()).sum())


class VectorQuantizer(nn.Module):
    """Nearest-neighbour vector quantiser over the channel axis of (B, C, H, W) tensors.

    Args:
        codebook_size: number of codes K.
        dim: vector dimension C.
        ema: update the codebook by exponential moving averages (else by the codebook loss's gradient).
        decay: EMA decay of code usage and of the codebook sums.
        kmeans_init: initialise the codebook by k-means on the first training batch.
        kmeans_iters: Lloyd iterations for that initialisation.
        restart_threshold: codes whose EMA usage (assignments per batch) falls below this are restarted on
            random encoder outputs of the batch; 0 disables restarts.
        eps: Laplace smoothing of the EMA cluster sizes.
    """

    codebook: torch.Tensor
    cluster_size: torch.Tensor
    embed_sum: torch.Tensor
    initialized: torch.Tensor

    def __init__(
        self,
        codebook_size: int,
        dim: int,
        *,
        ema: bool = True,
        decay: float = 0.99,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        restart_threshold: float = 1.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if codebook_size < 2 or dim < 1:
            raise ConfigError(f"need codebook_size >= 2 and dim >= 1, got {codebook_size}, {dim}")
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"decay={decay} must lie in (0, 1)")
        self.codebook_size, self.dim = codebook_size, dim
        self.ema, self.decay, self.eps = ema, decay, eps
        self.kmeans_iters, self.restart_threshold = kmeans_iters, restart_threshold
        init = torch.randn(codebook_size, dim)
        if ema:
            self.register_buffer("codebook", init)
        else:
            self.codebook = nn.Parameter(init)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_sum", init.clone())
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """Quantise (B, C, H, W) -> :class:`QuantizerOutput`; updates the codebook in training mode.

        Always in float32, also under mixed-precision autocast (bf16-mixed training): the nearest codes and the
        EMA sums are distances and averages that bfloat16's 8 significant bits would blur."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._quantize(x.float())

    def _quantize(self, x: torch.Tensor) -> QuantizerOutput:
        b, c, h, w = x.shape
        flat = self._flat(x)
        if self.training and not bool(self.initialized):
            self._kmeans_init(flat.detach())
        codes = nearest_codes(flat.detach(), self.codebook.detach())
        dead = int((self.cluster_size < self.restart_threshold).sum())
        if self.training:
            self._update(flat.detach(), codes)
        chosen = F.embedding(codes, self.codebook)
        codebook_loss = F.mse_loss(chosen, flat.detach())
        commitment_loss = F.mse_loss(flat, chosen.detach())
        straight = flat + (chosen - flat).detach()
        return QuantizerOutput(
            quantized=straight.reshape(b, h, w, c).permute(0, 3, 1, 2),
            codes=codes.reshape(b, h, w),
            codebook_loss=codebook_loss,
            commitment_loss=commitment_loss,
            perplexity=perplexity(codes, self.codebook_size),
            dead_codes=dead,
        )

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The nearest codes (B, H, W) of (B, C, H, W): ``forward(x).codes`` without its losses and updates."""
        b, _, h, w = x.shape
        return nearest_codes(self._flat(x), self.codebook).reshape(b, h, w)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> its vectors (B * H * W, C), row-major over (B, H, W)."""
        if x.dim() != 4 or x.shape[1] != self.dim:
            raise ConfigError(f"expected (B, {self.dim}, H, W), got {tuple(x.shape)}")
        return x.permute(0, 2, 3, 1).reshape(-1, self.dim)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook vectors of int64 codes (B, H, W) -> (B, C, H, W)."""
        return F.embedding(codes, self.codebook).permute(0, 3, 1, 2)

    @torch.no_grad()
    def _kmeans_init(self, flat: torch.Tensor) -> None:
        centroids, counts = kmeans(flat, self.codebook_size, iters=self.kmeans_iters)
        self.codebook.data.copy_(centroids)
        self.cluster_size.copy_(counts)
        self.embed_sum.copy_(centroids * counts[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        counts = torch.bincount(codes, minlength=self.codebook_size).to(flat.dtype)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.ema:
            sums = torch.zeros_like(self.embed_sum).index_add_(0, codes, flat)
            self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            total = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.eps) / (total + self.codebook_size * self.eps) * total
            self.codebook.data.copy_(self.embed_sum / smoothed[:, None])
        if self.restart_threshold > 0:
            self._restart(flat)

    @torch.no_grad()
    def _restart(self, flat: torch.Tensor) -> None:
        dead = self.cluster_size < self.restart_threshold
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        picks = flat[torch.randint(flat.shape[0], (n_dead,), device=flat.device)]
        self.codebook.data[dead] = picks
        self.embed_sum[dead] = picks * self.restart_threshold
        self.cluster_size[dead] = self.restart_threshold

"""Priors over code grids: a position-only unigram baseline, Naive Bayes over neighbours, a masked Transformer.

Importing this package registers their builders (task "prior") with the model registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from spectrolab.models.registry import register_model
from spectrolab.priors.base import Conditioning, Prior, bits_per_code, lattice_log_prob
from spectrolab.priors.naive_bayes import FOUR_NEIGHBOURS, NaiveBayesPrior
from spectrolab.priors.transformer import MaskedCodeTransformer
from spectrolab.priors.unigram import UnigramPrior


@register_model("prior_unigram", task="prior")
def prior_unigram(*, codebook_size: int, height: int, alpha: float = 1.0) -> UnigramPrior:
    """Position-only baseline p(code | row), additively smoothed."""
    return UnigramPrior(codebook_size=codebook_size, height=height, alpha=alpha)


@register_model("prior_naive_bayes", task="prior")
def prior_naive_bayes(
    *,
    codebook_size: int,
    height: int,
    offsets: Sequence[Sequence[int]] = FOUR_NEIGHBOURS,
    alpha: float = 1.0,
    neighbour_vocab: int | None = None,
) -> NaiveBayesPrior:
    """Naive Bayes p(code | neighbour codes, row, pitch, family); Gibbs sampling of regions."""
    return NaiveBayesPrior(
        codebook_size=codebook_size, height=height, offsets=offsets, alpha=alpha, neighbour_vocab=neighbour_vocab
    )


register_model(
    "prior_transformer",
    task="prior",
    description="Masked-code Transformer over the grid with 2-D position and pitch/family embeddings; MaskGIT sampling",
)(MaskedCodeTransformer)


__all__ = [
    "Conditioning",
    "MaskedCodeTransformer",
    "NaiveBayesPrior",
    "Prior",
    "UnigramPrior",
    "bits_per_code",
    "lattice_log_prob",
]

"""Registered codec presets: ``vqvae_notono`` (the NOTONO / VQ-VAE-2 shapes, our anchor) and ``vqvae_default``.

Both use the same network widths so that, trained on the same data for the same CPU budget, they differ only
in what the issue compares: input resolution, grid shapes and codebooks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spectrolab.audio.representations import MelIFConfig
from spectrolab.codec.vqvae import Codec
from spectrolab.models.registry import register_model

_WIDTHS: dict[str, Any] = {"channels": [32, 48, 64], "embedding_dim": 64, "res_blocks": 1}


@register_model("vqvae_notono", task="codec")
def vqvae_notono(**overrides: Any) -> Codec:
    """NOTONO shapes: 2x1024x128 mel-IF (n_fft 2048, hop 512), bottom 64x8 and top 32x4 grids, 512 codes each.

    The representation's fixed 128 frames are left to the codec, which pads 4 s (126 frames) to 128 itself and
    so also takes shorter crops in training.
    """
    args: dict[str, Any] = {
        "representation": replace(MelIFConfig.gansynth(), frames=None).to_dict(),
        "strides": [[4, 4], [2, 2], [2, 2]],
        "top_channels": [64],
        "top_strides": [[2, 2]],
        "codebook_sizes": [512, 512],
        **_WIDTHS,
    }
    return Codec(**{**args, **overrides})


@register_model("vqvae_default", task="codec")
def vqvae_default(**overrides: Any) -> Codec:
    """spectrolab default: 2x512x256 mel-IF (n_fft 1024, hop 256), one 32x16 grid of 1024 codes (1.28 kbit/s)."""
    args: dict[str, Any] = {
        "representation": MelIFConfig.fast().to_dict(),
        "strides": [[4, 4], [2, 2], [2, 2]],
        "codebook_sizes": [1024],
        **_WIDTHS,
    }
    return Codec(**{**args, **overrides})

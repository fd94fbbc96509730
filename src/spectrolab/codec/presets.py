"""Registered codec presets: ``vqvae_notono`` (the NOTONO / VQ-VAE-2 shapes, our anchor) and ``vqvae_default``.

Both are :class:`~spectrolab.codec.vqvae.Codec` with the same network widths, so that, trained on the same
data for the same CPU budget, they differ only in what the issue compares: input resolution, grid shapes and
codebooks. The NOTONO representation's fixed 128 frames are left to the codec, which pads 4 s (126 frames)
to 128 itself and so also takes shorter crops in training.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spectrolab.audio.representations import MelIFConfig
from spectrolab.codec.vqvae import Codec
from spectrolab.models.registry import register_model

_WIDTHS: dict[str, Any] = {"channels": [32, 48, 64], "strides": [[4, 4], [2, 2], [2, 2]], "embedding_dim": 64}

register_model(
    "vqvae_notono",
    task="codec",
    description="NOTONO shapes: 2x1024x128 mel-IF (n_fft 2048, hop 512), 64x8 + 32x4 grids of 512 codes",
    representation=replace(MelIFConfig.gansynth(), frames=None).to_dict(),
    top_channels=[64],
    top_strides=[[2, 2]],
    codebook_sizes=[512, 512],
    phase="decoded",
    **_WIDTHS,
)(Codec)

register_model(
    "vqvae_default",
    task="codec",
    description="spectrolab default: 2x512x256 mel-IF (n_fft 1024, hop 256), one 32x16 grid of 1024 codes, peak phase",
    representation=MelIFConfig.fast().to_dict(),
    codebook_sizes=[1024],
    phase="peaks",
    **_WIDTHS,
)(Codec)

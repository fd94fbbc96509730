"""The prototype VQ-VAE is usually taught with: handwritten digits in, a grid of codes, digits back out.

scikit-learn ships 1797 8x8 digits (:func:`load_digits_images`); users with the MNIST files can load them with
:func:`load_mnist_images`. ``scripts/digits_vqvae.py`` trains the small model and prints the reconstruction
error before and after.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spectrolab.codec.quantizer import QuantizerOutput, VectorQuantizer
from spectrolab.errors import DataError
from spectrolab.models.registry import register_model

_IDX_IMAGES_MAGIC = 2051


def load_digits_images() -> torch.Tensor:
    """scikit-learn's bundled digits as (1797, 1, 8, 8) float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.float32) / 16.0
    return torch.from_numpy(images)[:, None]


def load_mnist_images(path: str | os.PathLike[str]) -> torch.Tensor:
    """An MNIST IDX image file (``train-images-idx3-ubyte``, optionally ``.gz``) as (N, 1, 28, 28) in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such MNIST image file")
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 16 or int.from_bytes(raw[:4], "big") != _IDX_IMAGES_MAGIC:
        raise DataError(f"{path}: not an MNIST IDX image file (bad magic number)")
    count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    if len(raw) != 16 + count * rows * cols:
        raise DataError(f"{path}: truncated ({len(raw) - 16} pixel bytes for {count} images of {rows}x{cols})")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, rows, cols)
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)


@dataclass
class DigitsOutput:
    """Reconstruction (B, 1, H, W) logits' sigmoid and the quantiser output."""

    reconstruction: torch.Tensor
    quantizer: QuantizerOutput


class DigitsVQVAE(nn.Module):
    """Conv encoder (stride 2) -> VQ -> conv decoder, on (B, 1, H, W) images with even H and W."""

    def __init__(self, *, channels: int = 32, embedding_dim: int = 16, codebook_size: int = 64) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, embedding_dim, 1),
        )
        self.quantizer = VectorQuantizer(codebook_size, embedding_dim, restart_threshold=0.1)
        self.decoder = nn.Sequential(
            nn.Conv2d(embedding_dim, channels, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 1, 3, padding=1),
        )

    def forward(self, images: torch.Tensor) -> DigitsOutput:
        quantized = self.quantizer(self.encoder(images))
        return DigitsOutput(torch.sigmoid(self.decoder(quantized.quantized)), quantized)


register_model("vqvae_digits", task="codec", description="prototype VQ-VAE on handwritten digits")(DigitsVQVAE)


def reconstruction_error(model: DigitsVQVAE, images: torch.Tensor) -> float:
    """Mean squared pixel error of the model's reconstructions (eval mode, no codebook updates)."""
    model.eval()
    with torch.no_grad():
        return float(F.mse_loss(model(images).reconstruction, images))


def train_digits(
    model: DigitsVQVAE,
    images: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    commitment_weight: float = 0.25,
    seed: int = 0,
) -> list[float]:
    """Adam on ``mse + commitment_weight * commitment`` over random batches; returns the loss of each step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    losses = []
    for _ in range(steps):
        batch = images[torch.randint(images.shape[0], (batch_size,), generator=generator)]
        out = model(batch)
        loss = F.mse_loss(out.reconstruction, batch) + commitment_weight * out.quantizer.commitment_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses

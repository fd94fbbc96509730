"""Example: train the prototype VQ-VAE on handwritten digits and report reconstruction error and code usage.

PYTHONPATH=src python scripts/digits_vqvae.py [--mnist train-images-idx3-ubyte.gz] [--steps 500]
"""

from __future__ import annotations

import argparse

import torch

from spectrolab.codec.digits import (
    DigitsVQVAE,
    load_digits_images,
    load_mnist_images,
    reconstruction_error,
    train_digits,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="MNIST IDX image file; default: scikit-learn's bundled 8x8 digits")
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    torch.manual_seed(0)
    images = load_mnist_images(args.mnist) if args.mnist else load_digits_images()
    model = DigitsVQVAE()
    before = reconstruction_error(model, images)
    train_digits(model, images, steps=args.steps)
    after = reconstruction_error(model, images)
    q = model.quantizer
    used = int((q.cluster_size >= q.restart_threshold).sum())
    print(f"{len(images)} images: reconstruction MSE {before:.4f} -> {after:.4f}")
    print(f"codes in use: {used}/{q.codebook_size}")


if __name__ == "__main__":
    main()

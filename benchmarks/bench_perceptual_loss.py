"""Our PerceptualLoss against auraloss's MultiResolutionSTFTLoss, forward + backward on the same batch.

auraloss with its defaults (FFT sizes 1024/2048/512, hops 120/240/50, windows 600/1200/240, spectral
convergence + log-magnitude L1). Ours with its defaults (2 bands per Bark, critical bands, Terhardt threshold),
with masking (simultaneous + temporal), and the original recipe (zounds, 512 bands at stride 1) for scale.
Prints milliseconds per forward + backward (median of ``--repeats`` after a warm-up) and the ratio to
auraloss's time (below 1: ours is faster). Every loss sees the same (pred, target) batches.

    PYTHONPATH=src python benchmarks/bench_perceptual_loss.py [--repeats 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import auraloss
import torch

from spectrolab.losses import OriginalPerceptualLoss, PerceptualLoss

CASES = ((11025, 4, 8192), (16000, 8, 16000), (44100, 2, 44100))
"""(sample rate, batch, samples): the experiment's clips, a codec-sized batch of 1 s crops, and CD-rate audio."""


def time_loss(loss: torch.nn.Module, pred: torch.Tensor, target: torch.Tensor, repeats: int) -> float:
    """Median milliseconds of loss(pred, target).backward() after one warm-up call."""
    times = []
    for i in range(repeats + 1):
        pred.grad = None
        start = time.perf_counter()
        loss(pred, target).backward()
        if i:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"forward + backward, ms (median of {args.repeats}), {args.threads} thread(s); ratio = time / auraloss's")
    print(f"{'sample rate':>11} {'batch':>5} {'loss':<34} {'ms':>9} {'ratio':>7}")
    for sample_rate, batch, samples in CASES:
        target = torch.randn(batch, 1, samples) * 0.3  # (B, 1, T): auraloss wants channels; ours accepts it
        pred = (0.8 * target + 0.05 * torch.randn_like(target)).requires_grad_()
        losses = {
            "auraloss MultiResolutionSTFTLoss": auraloss.freq.MultiResolutionSTFTLoss(),
            "ours (PerceptualLoss)": PerceptualLoss(sample_rate=sample_rate),
            "ours + masking": PerceptualLoss(sample_rate=sample_rate, masking=True, temporal_masking=True),
        }
        if sample_rate == 11025:
            losses["original recipe (zounds)"] = OriginalPerceptualLoss(sample_rate=sample_rate)
        peer = None
        for name, loss in losses.items():
            ms = time_loss(loss, pred, target, args.repeats if "original" not in name else max(2, args.repeats // 5))
            peer = ms if peer is None else peer
            print(f"{sample_rate:>11} {batch:>5} {name:<34.34} {ms:>9.2f} {ms / peer:>7.3f}", flush=True)


if __name__ == "__main__":
    main()

"""Our VectorQuantizer against vector-quantize-pytorch's VectorQuantize, same settings, same tensors.

1. Throughput: forward + backward + EMA update on (B, C, H, W) feature maps in training mode; prints the
   time per step of each and the ratio (ours / theirs: below 1 means ours is faster).
2. Codebook usage after the same training: both quantise the same stream of batches drawn from a mixture of
   many Gaussians (more clusters than codes), then report perplexity and dead codes on a held-out batch.

Settings shared by both: EMA codebook (decay 0.95), k-means initialisation on the first batch, dead-code
restarts below an EMA usage of 0.5, commitment weight 0.25, plain straight-through gradients (their
rotation trick off).

    PYTHONPATH=src python benchmarks/bench_vq.py [--steps 50] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch
from vector_quantize_pytorch import VectorQuantize

from spectrolab.codec.quantizer import VectorQuantizer, perplexity

DECAY, DEAD, COMMIT = 0.95, 0.5, 0.25


def ours(codebook_size: int, dim: int) -> VectorQuantizer:
    return VectorQuantizer(codebook_size, dim, decay=DECAY, restart_threshold=DEAD, kmeans_init=True)


def theirs(codebook_size: int, dim: int) -> VectorQuantize:
    return VectorQuantize(
        dim=dim,
        codebook_size=codebook_size,
        decay=DECAY,
        kmeans_init=True,
        threshold_ema_dead_code=DEAD,
        commitment_weight=COMMIT,
        accept_image_fmap=True,
        rotation_trick=False,
    )


def step_ours(vq: VectorQuantizer, x: torch.Tensor) -> torch.Tensor:
    out = vq(x)
    (out.quantized.square().mean() + COMMIT * out.commitment_loss).backward()
    return out.codes


def step_theirs(vq: VectorQuantize, x: torch.Tensor) -> torch.Tensor:
    quantized, codes, loss = vq(x)
    (quantized.square().mean() + loss.sum()).backward()
    return codes


def time_steps(step, vq, batches: list[torch.Tensor]) -> float:
    """Median seconds per training step over ``batches`` (after one warm-up step)."""
    vq.train()
    step(vq, batches[0].clone().requires_grad_())
    times = []
    for x in batches:
        x = x.clone().requires_grad_()
        start = time.perf_counter()
        step(vq, x)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def mixture_batches(n: int, *, clusters: int, dim: int, size: tuple[int, int, int], seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(clusters, dim, generator=torch.Generator().manual_seed(1234))
    b, h, w = size
    out = []
    for _ in range(n):
        pick = centres[torch.randint(clusters, (b * h * w,), generator=g)]
        points = pick + 0.1 * torch.randn(b * h * w, dim, generator=g)
        out.append(points.reshape(b, h, w, dim).permute(0, 3, 1, 2).contiguous())
    return out


def usage_after_training(step, vq, train: list[torch.Tensor], held_out: torch.Tensor, size: int) -> tuple[float, int]:
    vq.train()
    for x in train:
        step(vq, x.clone().requires_grad_())
    vq.eval()
    with torch.no_grad():
        codes = step_codes(vq, held_out)
    used = torch.bincount(codes.flatten(), minlength=size)
    return float(perplexity(codes, size)), int((used == 0).sum())


def step_codes(vq, x: torch.Tensor) -> torch.Tensor:
    if isinstance(vq, VectorQuantizer):
        return vq(x).codes
    return vq(x)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--codebook-size", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    k, d = args.codebook_size, args.dim
    size = (16, 32, 4)  # the default codec's training batch: 16 crops of 32 x 4 cells
    batches = mixture_batches(args.steps, clusters=4 * k, dim=d, size=size, seed=0)
    torch.manual_seed(0)
    t_ours = time_steps(step_ours, ours(k, d), batches)
    torch.manual_seed(0)
    t_theirs = time_steps(step_theirs, theirs(k, d), batches)
    print(f"VQ train step, {size[0]}x{d}x{size[1]}x{size[2]} -> {k} codes, {args.threads} thread(s):")
    print(f"  spectrolab VectorQuantizer      {t_ours * 1e3:8.2f} ms")
    print(f"  vector-quantize-pytorch         {t_theirs * 1e3:8.2f} ms")
    print(f"  ratio ours/theirs               {t_ours / t_theirs:8.2f}")
    held_out = mixture_batches(1, clusters=4 * k, dim=d, size=(128, 32, 4), seed=99)[0]
    torch.manual_seed(0)
    p_ours, dead_ours = usage_after_training(step_ours, ours(k, d), batches, held_out, k)
    torch.manual_seed(0)
    p_theirs, dead_theirs = usage_after_training(step_theirs, theirs(k, d), batches, held_out, k)
    print(f"codebook usage after {args.steps} steps on a {4 * k}-cluster mixture (held-out batch):")
    print(f"  spectrolab VectorQuantizer      perplexity {p_ours:7.1f}, unused codes {dead_ours}/{k}")
    print(f"  vector-quantize-pytorch         perplexity {p_theirs:7.1f}, unused codes {dead_theirs}/{k}")


if __name__ == "__main__":
    main()

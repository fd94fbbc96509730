"""CPU training-step time of the taggers: the tricks ``spectrolab train tagger`` uses, against the plain step.

* MusiCNN: ``forward`` (the input batch norm's scale and shift applied after the timbral convolutions, by
  linearity) against ``forward_plain`` (the textbook order, whose backward pass computes the input gradient of
  two tall 1-channel convolutions). Same numbers and gradients (tested); fp32.
* Every model in ``--models``: ``--precision bf16-mixed`` (``torch.autocast`` on the CPU in bfloat16) against
  fp32. Worth it only where the CPU has AVX512-BF16 or AMX; the script prints which flags it sees. A codec
  (``vqvae_default``) takes ``spectrolab train codec``'s step instead: its losses on 1 s crops, its vector
  quantiser in float32 either way.

One optimiser step (AdamW) on a batch of ``--batch-size`` chunks of real soundfont audio, median of
``--repeats`` after a warm-up, one thread by default (the results script trains on one thread per run).

    python benchmarks/bench_train_step.py [--models musicnn short_chunk_cnn ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec
from spectrolab.models import create_model
from spectrolab.models.registry import model_info
from spectrolab.training.codec import codec_losses, crop_samples

DEFAULT_MODELS = ["musicnn", "short_chunk_cnn", "fcn", "sample_cnn", "timm/convnext_atto"]


def cpu_flags() -> str:
    """The CPU's bfloat16-related flags, from /proc/cpuinfo (empty where it cannot be read)."""
    info = Path("/proc/cpuinfo")
    flags = set(info.read_text().split()) if info.is_file() else set()
    return " ".join(sorted(f for f in flags if "bf16" in f or f.startswith("amx"))) or "none"


def audio_batch(batch: int, length: int, sample_rate: int) -> torch.Tensor:
    """(batch, length): soundfont notes of several programs and pitches, one after another, a row each."""
    with NoteRenderer(TEST_SOUNDFONT, sample_rate=sample_rate) as synth:
        notes = [synth.render(NoteSpec(p, 48 + 5 * i, 100)) for i, p in enumerate((0, 24, 40, 56, 73, 19))]
    stream = torch.from_numpy(np.concatenate(notes))
    stream = stream.repeat(1 + (length + batch * sample_rate) // stream.numel())
    return torch.stack([stream[i * sample_rate : i * sample_rate + length] for i in range(batch)])


def step_seconds(model: torch.nn.Module, step: Callable[[], torch.Tensor], repeats: int) -> float:
    """Median wall time of ``repeats`` optimiser steps (loss from ``step()``) after one warm-up."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        step().backward()
        optimiser.step()
        optimiser.zero_grad()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_codec(name: str, args: argparse.Namespace) -> None:
    """Print codec ``name``'s training step in fp32 and in bf16-mixed, and their ratio."""
    torch.manual_seed(0)
    model = create_model(name).train()
    wave = audio_batch(args.batch_size, crop_samples(model, 1.0), model.sample_rate)

    def loss(bf16: bool) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return codec_losses(model, wave, if_weight=0.0)[0].total.float()

    fp32 = step_seconds(model, lambda: loss(False), args.repeats)
    bf16 = step_seconds(model, lambda: loss(True), args.repeats)
    print(f"{name + ': bf16-mixed vs fp32':40s} {fp32:8.3f} {bf16:8.3f} {fp32 / bf16:8.2f}x", flush=True)


def measure(name: str, args: argparse.Namespace) -> None:
    """Print the plain and the optimised step time of model ``name`` and their ratio."""
    if model_info(name).task == "codec":
        measure_codec(name, args)
        return
    torch.manual_seed(0)
    model = create_model(name, num_classes=17).train()
    wave = audio_batch(args.batch_size, model.input_length, model.sample_rate)
    target = (torch.rand(args.batch_size, 17) < 0.3).float()

    def loss(forward: Callable[[torch.Tensor], torch.Tensor], bf16: bool = False) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = forward(wave)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target)

    if name == "musicnn":
        plain = step_seconds(model, lambda: loss(model.forward_plain), args.repeats)
        ours = step_seconds(model, lambda: loss(model), args.repeats)
        print(f"{'musicnn: affine shortcut vs plain (fp32)':40s} {plain:8.3f} {ours:8.3f} {plain / ours:8.2f}x")
    fp32 = step_seconds(model, lambda: loss(model), args.repeats)
    bf16 = step_seconds(model, lambda: loss(model, bf16=True), args.repeats)
    print(f"{name + ': bf16-mixed vs fp32':40s} {fp32:8.3f} {bf16:8.3f} {fp32 / bf16:8.2f}x", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), batch {args.batch_size}, CPU bf16 flags: {cpu_flags()}")
    print(f"{'model':40s} {'plain s':>8s} {'ours s':>8s} {'speed-up':>9s}")
    for name in args.models:
        measure(name, args)


if __name__ == "__main__":
    main()

"""Which codec shapes fit the latency budget: encode + decode of a 4 s note for candidate widths and depths.

The codec's speed does not depend on its weights, so each candidate is the ``vqvae_default`` preset with other
``channels`` / ``res_blocks``, freshly initialised, timed audio to audio (analysis, encoder, VQ, decoder,
peak-phase inverse) on the same note. The peer is the preset's own shape (the previous default codec's),
measured in the same run, the candidates taking turns so that the machine's drift reaches them all alike.
Prints parameters, multiply-accumulates of the convolutions per 4 s note, the median time and its ratio to the
peer, on each thread count asked for.

    PYTHONPATH=src python benchmarks/bench_codec_shapes.py [--threads 1 2] [--runs 20] [--out results/codec_shapes.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from spectrolab.codec import Codec
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness
from spectrolab.models.precision import cpu_description
from spectrolab.models.registry import create_model

# (label, overrides of the vqvae_default preset); the first, the preset's own shape, is the peer.
CANDIDATES: list[tuple[str, dict[str, object]]] = [
    ("preset (the previous default): channels 32-48-64, 1 res block", {}),
    ("channels 32-48-64, 3 res blocks", {"res_blocks": 3}),
    ("shipped: channels 32-48-96, 2 res blocks", {"channels": [32, 48, 96], "res_blocks": 2}),
    ("channels 24-48-96, 2 res blocks", {"channels": [24, 48, 96], "res_blocks": 2}),
    ("channels 32-64-128, 1 res block", {"channels": [32, 64, 128]}),
    ("channels 32-64-128, 2 res blocks", {"channels": [32, 64, 128], "res_blocks": 2}),
    ("channels 16-48-128, 2 res blocks", {"channels": [16, 48, 128], "res_blocks": 2}),
]


def conv_macs(model: nn.Module, run: Callable[[], object]) -> int:
    """Multiply-accumulates of every ``nn.Conv2d`` call during ``run()`` (hooks on the float32 modules)."""
    total = 0

    def count(conv: nn.Conv2d, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        per_output = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        total += output.numel() * per_output

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("results/codec_shapes.md"), help="markdown table")
    args = parser.parse_args()
    with NoteRenderer(TEST_SOUNDFONT) as renderer:
        wave = torch.from_numpy(normalize_loudness(renderer.render(NoteSpec(0, 60, 100))))[None]
    torch.manual_seed(0)
    codecs: list[Codec] = []
    for _, overrides in CANDIDATES:
        codec = create_model("vqvae_default", **overrides)
        assert isinstance(codec, Codec)
        codecs.append(codec.eval())
    with torch.inference_mode():
        macs = []
        for codec in codecs:
            codec.precision = "float32"  # hooks count the float32 modules; the timing below uses the default
            macs.append(conv_macs(codec, lambda c=codec: c.decode(c.encode(wave))))
            codec.precision = "auto"
        medians: dict[int, list[float]] = {}
        for threads in args.threads:
            torch.set_num_threads(threads)
            times: list[list[float]] = [[] for _ in codecs]
            for codec in codecs:
                codec.decode(codec.encode(wave))
            for _ in range(args.runs):
                for i, codec in enumerate(codecs):
                    start = time.perf_counter()
                    codec.decode(codec.encode(wave))
                    times[i].append(time.perf_counter() - start)
            medians[threads] = [1e3 * statistics.median(t) for t in times]
    lines = [
        f"From `PYTHONPATH=src python benchmarks/bench_codec_shapes.py --runs {args.runs}` (untrained candidates: "
        "speed does not depend on the weights; the preset's own shape is the peer, measured in the same run, the "
        "candidates taking turns):",
        "",
        f"{cpu_description()}; 4 s note, encode + decode audio to audio, median of {args.runs} runs (ms)",
        "",
        "| codec shape | parameters | conv MACs per note | "
        + " | ".join(f"{t} thread(s): ms | x preset" for t in args.threads)
        + " |",
        "|---|---:|---:|" + "---:|---:|" * len(args.threads),
    ]
    for i, (label, _) in enumerate(CANDIDATES):
        params = sum(p.numel() for p in codecs[i].parameters())
        cells = " | ".join(f"{medians[t][i]:.1f} | {medians[t][i] / medians[t][0]:.2f}" for t in args.threads)
        lines.append(f"| {label} | {params / 1e3:.0f} k | {macs[i] / 1e6:.0f} M | {cells} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()

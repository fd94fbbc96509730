"""Latency of the shipped codec: encode + decode of a 4 s note, audio to audio, on the CPU.

Peer measured in the same run on the same note: 32 iterations of fast Griffin-Lim on the note's STFT
magnitude (n_fft 1024, hop 256), the phase recovery a magnitude-only codec would need on top of its network.
Prints the median and the best of ``--runs`` runs, the stages of the codec (analysis, encoder + VQ, decoder,
inverse) and the ratio codec / Griffin-Lim.

    PYTHONPATH=src python benchmarks/bench_codec_latency.py [--threads 2] [--runs 30] [--model DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from spectrolab.audio import functional as F
from spectrolab.codec import load_codec
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, best) seconds of ``fn`` over ``runs`` calls after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--model", type=Path, help="codec directory (default: the shipped codec)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codec = load_codec(args.model)
    with NoteRenderer(TEST_SOUNDFONT) as renderer:
        wave = torch.from_numpy(normalize_loudness(renderer.render(NoteSpec(0, 60, 100))))[None]
    n = wave.shape[-1]
    with torch.inference_mode():
        spec = codec.analyse(wave)
        grids = codec.encode(wave)
        vectors = [q.lookup(c) for q, c in zip(codec.quantizers, grids.grids, strict=True)]  # type: ignore[union-attr]
        recon = codec.denormalise(codec.decode_vectors(vectors), num_samples=n)
        magnitude = F.stft(wave, n_fft=1024, hop_length=256).abs()
        generator = torch.Generator().manual_seed(0)
        stages = {
            "encode + decode (audio to audio)": lambda: codec.decode(codec.encode(wave)),
            "  analysis (mel-IF)": lambda: codec.analyse(wave),
            "  encoder + VQ": lambda: codec.codes(spec),
            "  decoder": lambda: codec.decode_vectors(vectors, magnitude_only=not codec.needs_if),
            f"  inverse ({codec.phase} phase, iSTFT)": lambda: codec.invert(recon, num_samples=n),
            "peer: Griffin-Lim, 32 iterations": lambda: F.griffin_lim(
                magnitude, n_fft=1024, hop_length=256, n_iter=32, length=n, generator=generator
            ),
        }
        results = {name: timed(fn, args.runs) for name, fn in stages.items()}
    print(f"4 s note at {codec.sample_rate} Hz, {args.threads} thread(s), {args.runs} runs: median / best (ms)")
    for name, (median, best) in results.items():
        print(f"  {name:36s} {median * 1e3:7.1f} / {best * 1e3:6.1f}")
    codec_median = results["encode + decode (audio to audio)"][0]
    gl_median = results["peer: Griffin-Lim, 32 iterations"][0]
    print(f"  ratio codec / Griffin-Lim-32 (medians) {codec_median / gl_median:7.2f}")
    print(f"  bitrate {grids.bitrate:.0f} bit/s; grids {[level.shape for level in grids.levels]}")


if __name__ == "__main__":
    main()

"""The codec's inference in float32 against bfloat16 (``Codec.precision``): quality, codes and time.

Renders notes of the test soundfont (TimGM6mb: every 8th General-MIDI program, pitches spread over 36-84,
velocity 100, loudness-normalised), round-trips each through the shipped codec in both precisions, and prints
the mean mel log-spectral distance to the input of each, the share of identical codes, and the median time
of encode + decode of one note (one thread, the same notes, the same run). bfloat16 pays only on CPUs with
native bfloat16 arithmetic (``spectrolab.models.precision.native_bfloat16``); elsewhere it is emulated.

    PYTHONPATH=src python benchmarks/bench_codec_precision.py [--notes 40] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from spectrolab.codec import load_codec
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness
from spectrolab.metrics import mel_log_spectral_distance
from spectrolab.models.precision import native_bfloat16


def render_notes(count: int) -> list[torch.Tensor]:
    """``count`` notes (1, T) over programs 0, 8, ..., 120 and pitches 36-84."""
    specs = [NoteSpec(program=8 * (i % 16), pitch=36 + (7 * i) % 49, velocity=100) for i in range(count)]
    with NoteRenderer(TEST_SOUNDFONT) as renderer:
        return [torch.from_numpy(normalize_loudness(renderer.render(spec)))[None] for spec in specs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=40)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec = load_codec()
    notes = render_notes(args.notes)
    codes, lsd, ms = {}, {}, {}
    with torch.inference_mode():
        for precision in ("float32", "bfloat16"):
            codec.precision = precision
            grids = [codec.encode(wave) for wave in notes]
            decoded = [codec.decode(g) for g in grids]
            codes[precision] = torch.cat([g.grids[0].flatten() for g in grids])
            pairs = zip(notes, decoded, strict=True)
            distances = [mel_log_spectral_distance(wave, out, sample_rate=codec.sample_rate) for wave, out in pairs]
            lsd[precision] = float(torch.cat(distances).mean())
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                codec.decode(codec.encode(notes[0]))
                times.append(time.perf_counter() - started)
            ms[precision] = 1000 * statistics.median(times)
    same = float((codes["float32"] == codes["bfloat16"]).float().mean())
    print(f"{args.notes} notes of {TEST_SOUNDFONT}, 1 thread; native bfloat16 on this CPU: {native_bfloat16()}")
    print("| precision | mel LSD (dB) | encode + decode of a 4 s note (ms) |")
    print("|---|---:|---:|")
    for precision in ("float32", "bfloat16"):
        print(f"| {precision} | {lsd[precision]:.3f} | {ms[precision]:.1f} |")
    print(f"identical codes: {100 * same:.1f}%; time bfloat16 / float32: {ms['bfloat16'] / ms['float32']:.2f}")


if __name__ == "__main__":
    main()

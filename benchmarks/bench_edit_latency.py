"""Latency of one blur edit of a 4 s note, file in to file out, against the codec's plain round trip.

Each run loads the wav, encodes it, resamples the region (Naive Bayes: Gibbs sweeps; Transformer: iterative
unmasking), decodes, inverts the spectrogram and writes the wav. The peer, timed in the same run, does the
same without the resampling. Models are loaded once, before timing. Median over ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from spectrolab.audio import io
from spectrolab.cli.demo import EXAMPLE_NOTE
from spectrolab.codec import Codec, load_codec
from spectrolab.edit.blur import BlurOptions, blur_file
from spectrolab.edit.region import Region
from spectrolab.priors.api import load_prior

REGION = Region(start_s=0.5, stop_s=1.5, low_hz=200.0, high_hz=4000.0)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``fn`` in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def round_trip_file(note: Path, out: Path, codec: Codec) -> None:
    wave = io.load(note, sample_rate=codec.sample_rate)
    with torch.inference_mode():
        decoded = codec.decode(codec.encode(wave))
    io.save(out, decoded[0], sample_rate=codec.sample_rate, force=True)


def edit_latencies(
    *, codec: Codec, priors: dict[str, str], note: Path = EXAMPLE_NOTE, runs: int = 20, steps: int = 8
) -> dict[str, float]:
    """Median milliseconds of the codec round trip and of one edit with each prior, file to file."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        results = {"codec round trip (peer)": median_ms(lambda: round_trip_file(note, out, codec), runs)}
        for name, where in priors.items():
            prior = load_prior(where)
            options = BlurOptions(steps=steps)
            results[name] = median_ms(
                lambda prior=prior, options=options: blur_file(
                    note, out, codec=codec, prior=prior, region=REGION, options=options, force=True
                ),
                runs,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--codec", help="codec directory (default: shipped)")
    parser.add_argument("--nb", default="nb", help="Naive Bayes prior (default: shipped)")
    parser.add_argument("--transformer", default="transformer", help="Transformer prior (default: shipped)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = edit_latencies(
        codec=load_codec(args.codec), priors={"naive bayes": args.nb, "transformer": args.transformer}, runs=args.runs
    )
    peer = results["codec round trip (peer)"]
    print(f"one edit of a 4 s note, file to file, median of {args.runs} runs, {args.threads} thread(s)")
    for name, ms in results.items():
        print(f"{name:24s} {ms:8.1f} ms   {ms / peer:5.2f} x the round trip")


if __name__ == "__main__":
    main()

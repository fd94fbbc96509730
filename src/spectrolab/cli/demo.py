"""``spectrolab demo``: blur a region of the bundled example note with the bundled codec and prior.

No training and no downloads: it encodes ``assets/example_note.wav`` with the shipped codec, resamples a
time-frequency region with a shipped prior, decodes it and pastes it into the original (everything outside
the region stays the original's), and writes the original, the codec's plain round trip, the edit and a
before/after figure to ``--out`` (replacing its own earlier outputs), printing the paths.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spectrolab.data.soundfont import NoteSpec
from spectrolab.paths import ASSETS
from spectrolab.sampling import temperature_help

EXAMPLE_NOTE = ASSETS / "example_note.wav"
EXAMPLE_SPEC = NoteSpec(program=40, pitch=64, velocity=100)


def _run(args: argparse.Namespace) -> int:
    import torch

    from spectrolab.audio import io
    from spectrolab.codec import load_codec
    from spectrolab.edit.blur import BlurOptions
    from spectrolab.edit.editor import edit_file
    from spectrolab.edit.plot import plot_edit
    from spectrolab.edit.region import Region, parse_span
    from spectrolab.priors.api import load_prior

    started = time.perf_counter()
    out = Path(args.out)
    codec, prior = load_codec(), load_prior(args.prior)
    wave = io.load(EXAMPLE_NOTE, sample_rate=codec.sample_rate)
    with torch.inference_mode():
        round_trip = codec.decode(codec.encode(wave))
    original = io.save(out / "example_note.wav", wave, sample_rate=codec.sample_rate, force=True)
    plain = io.save(out / "example_codec.wav", round_trip, sample_rate=codec.sample_rate, force=True)
    start, stop = parse_span(args.time, what="--time")
    low, high = parse_span(args.freq, what="--freq")
    region = Region(start_s=start, stop_s=stop, low_hz=low, high_hz=high)
    options = BlurOptions(temperature=args.temperature, seed=args.seed)
    edited = out / f"example_blur_{args.prior}.wav"
    result = edit_file(EXAMPLE_NOTE, edited, codec=codec, prior=prior, region=region, options=options, force=True)
    png = plot_edit(result, io.read_native(EXAMPLE_NOTE), path=edited.with_suffix(".png"), force=True)
    print(f"original note      {original}")
    print(f"codec round trip   {plain}")
    print(f"{'blurred (' + args.prior + ')':18s} {edited}")
    print(f"                   {result.describe()}")
    print(f"before/after plot  {png}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="blur a region of the bundled example note with the bundled models")
    p.add_argument("--out", default="out/demo", help="output folder (the demo replaces its own files there)")
    p.add_argument("--prior", default="nb", choices=("nb", "transformer"), help="which bundled prior resamples")
    p.add_argument("--time", default="1.0:2.0", help="START:STOP seconds of the region")
    p.add_argument("--freq", default="300:3000", help="LOW:HIGH Hz of the region")
    p.add_argument("--temperature", type=float, help=f"sampling temperature ({temperature_help()})")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(run=_run)

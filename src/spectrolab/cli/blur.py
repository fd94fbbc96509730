"""``spectrolab blur``: resample a time-frequency region of a sound from its surroundings."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from spectrolab.cli.energy import add_energy_options, run_measured
from spectrolab.data.nsynth_format import NSYNTH_FAMILIES
from spectrolab.errors import ConfigError
from spectrolab.sampling import DEFAULT_GUIDANCE, DEFAULT_STEPS, temperature_help

if TYPE_CHECKING:
    from spectrolab.edit.region import CellRegion, Region


def region_from_args(args: argparse.Namespace, *, duration: float, nyquist: float) -> Region:
    """The region of ``--time`` and ``--freq`` (each defaulting to the whole sound)."""
    from spectrolab.edit.region import Region, parse_span

    start, stop = parse_span(args.time, what="--time") if args.time else (0.0, duration)
    low, high = parse_span(args.freq, what="--freq") if args.freq else (0.0, nyquist)
    return Region(start_s=start, stop_s=stop, low_hz=low, high_hz=high)


def cells_from_args(args: argparse.Namespace, *, height: int, width: int) -> CellRegion:
    """The cells of ``--rows`` and ``--cols`` (each defaulting to the whole grid)."""
    from spectrolab.edit.region import CellRegion, parse_span

    if args.time or args.freq:
        raise ConfigError("give the region either in seconds and Hz (--time, --freq) or in cells (--rows, --cols)")
    rows = parse_span(args.rows, what="--rows") if args.rows else (0, height)
    cols = parse_span(args.cols, what="--cols") if args.cols else (0, width)
    if not all(float(v).is_integer() for v in (*rows, *cols)):
        raise ConfigError(f"--rows and --cols take whole cell indices, got {args.rows}, {args.cols}")
    return CellRegion(int(rows[0]), int(rows[1]), int(cols[0]), int(cols[1])).check_fits(height, width)


def _run(args: argparse.Namespace) -> int:
    from spectrolab.audio import io
    from spectrolab.codec import load_codec
    from spectrolab.edit.blur import BlurOptions
    from spectrolab.edit.editor import edit_file
    from spectrolab.edit.plot import plot_edit
    from spectrolab.plot import figure_format
    from spectrolab.priors.api import load_prior
    from spectrolab.priors.base import Conditioning

    started = time.perf_counter()
    for path in (args.output, args.plot):
        if path is not None:
            io.check_writable(path, force=args.force)
    if args.plot:
        figure_format(args.plot)  # an unknown extension is refused before any work
    codec = load_codec(args.codec)
    prior = load_prior(args.prior)
    info = io.info(args.input)
    region: Region | CellRegion
    if args.rows or args.cols:
        height, width = codec.grid_shapes(round(info.duration * codec.sample_rate))[args.level]
        region = cells_from_args(args, height=height, width=width)
    else:
        region = region_from_args(args, duration=info.duration, nyquist=codec.sample_rate / 2)
    options = BlurOptions(
        level=args.level,
        temperature=args.temperature,
        steps=args.steps,
        seed=args.seed,
        conditioning=Conditioning.from_names(args.pitch, args.family),
        guidance=args.guidance,
        allow_codec_mismatch=args.allow_codec_mismatch,
    )
    result = run_measured(  # repeated calls (--energy) overwrite the output they wrote themselves
        args,
        lambda: edit_file(
            args.input,
            args.output,
            codec=codec,
            prior=prior,
            region=region,
            options=options,
            resynthesize=args.resynthesize,
            match_level=not args.free_level,
            subtype=args.subtype,
            force=True,
        ),
        name=f"edit, prior {args.prior}",
        unit="edit",
    )
    out = result.audio
    print(
        f"{args.output}: {out.sample_rate} Hz, {out.channels} ch, {out.subtype}, {out.duration:.3f} s; "
        f"{result.describe()}; {time.perf_counter() - started:.2f} s"
    )
    note = result.gain_note()
    if note:
        print(f"{args.output}: {note}")
    if args.plot:
        print(f"{plot_edit(result, io.read_native(args.input), path=args.plot, force=args.force)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "blur",
        help="resample a time-frequency region of a sound from its surroundings",
        description=(
            "Resamples the code-grid cells under a time-frequency region with a prior and pastes the decoded result "
            "into the original under a soft mask. The output keeps the input's sample rate, channels, length and "
            "sample type (PCM_16 in, PCM_16 out; --subtype overrides); samples outside the region and its soft "
            "edges (40 ms, 1/6 octave) are the input's, bit for bit. The code grid covers 0-8 kHz of a 16 kHz mono "
            "analysis; content above 8 kHz is kept as it was. --resynthesize outputs the codec's decoding of the "
            "whole edited sound instead. The same inputs and seed give the same bytes."
        ),
    )
    p.add_argument("input", type=Path, help="audio file (any rate and channel count)")
    p.add_argument(
        "-o", "--output", type=Path, required=True, help="edited audio file (.wav, .flac, .ogg): input's rate/channels"
    )
    p.add_argument("--time", help="START:STOP seconds (default: the whole sound)")
    p.add_argument("--freq", help="LOW:HIGH Hz (default: all frequencies)")
    p.add_argument("--rows", help="FIRST:STOP grid rows, instead of --freq (0 = lowest band)")
    p.add_argument("--cols", help="FIRST:STOP grid columns, instead of --time")
    p.add_argument("--prior", default="nb", help="nb, transformer, or a prior model directory")
    p.add_argument("--codec", help="codec model directory (default: the shipped codec)")
    p.add_argument("--level", type=int, default=0, help="code level to edit (0 = bottom, finest)")
    p.add_argument(
        "--temperature",
        type=float,
        help=f"sampling temperature (> 0; lower is tamer; {temperature_help()})",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"Gibbs sweeps (nb) or unmasking steps (transformer; default {DEFAULT_STEPS})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same result")
    p.add_argument("--pitch", type=int, help="target MIDI pitch (priors conditioned on pitch)")
    p.add_argument("--family", choices=NSYNTH_FAMILIES, help="target instrument family")
    p.add_argument(
        "--guidance",
        type=float,
        default=DEFAULT_GUIDANCE,
        help="how hard --pitch/--family steer (classifier-free guidance; 0 ignores them, 1 plain, > 1 stronger; "
        f"default {DEFAULT_GUIDANCE:g})",
    )
    p.add_argument("--resynthesize", action="store_true", help="output the whole sound decoded by the codec")
    p.add_argument(
        "--free-level",
        action="store_true",
        help="paste the edit at its own level (default: given the original's level inside the region)",
    )
    p.add_argument("--subtype", help="output sample type, e.g. PCM_16, PCM_24, FLOAT (default: the input's)")
    p.add_argument(
        "--plot",
        type=Path,
        help="also write the before/after figure at the input's rate, grid and region drawn (.png .jpg .svg .pdf)",
    )
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument(
        "--allow-codec-mismatch", action="store_true", help="edit even if the prior was fitted on another codec"
    )
    add_energy_options(p)
    p.set_defaults(run=_run)

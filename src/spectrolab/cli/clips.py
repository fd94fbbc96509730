"""``spectrolab data clips DIR``: render the multi-instrument, multi-label tagging clips."""

from __future__ import annotations

import argparse

from spectrolab.cli.train import subcommand_group
from spectrolab.data.clips import SPLITS, TRAIN_PROGRAMS, ClipRecipe, render_clips
from spectrolab.errors import ConfigError


def _out(args: argparse.Namespace) -> str:
    """The output folder, given as ``DIR`` or as ``--out DIR`` (as ``data render`` takes it)."""
    if args.out_dir and args.out and args.out_dir != args.out:
        raise ConfigError(f"two output folders given ({args.out_dir} and --out {args.out}); give one")
    out = args.out or args.out_dir
    if not out:
        raise ConfigError("give the output folder: `spectrolab data clips --out DIR` (or DIR)")
    return str(out)


def _run(args: argparse.Namespace) -> int:
    out = _out(args)
    fonts = args.soundfont or [ClipRecipe.soundfont]
    recipe = ClipRecipe(
        soundfont=fonts[0] if len(fonts) == 1 else tuple(fonts),
        seed=args.seed,
        counts=dict(zip(SPLITS, args.counts, strict=True)),
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        sample_rate=args.sample_rate,
        train_programs=args.train_programs,
    )
    render_clips(
        out, recipe, force=args.force, workers=args.workers, progress=lambda split, n: print(f"{split}: {n} clips")
    )
    print(f"wrote {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommand_group(subparsers, "data", help="render or inspect datasets")
    p = group.add_parser("clips", help="render multi-instrument clips with multi-label tags")
    p.add_argument("out_dir", nargs="?", metavar="DIR", help="output folder (or --out DIR)")
    p.add_argument("--out", help="output folder (gets train/, valid/, test/ and labels.json)")
    p.add_argument(
        "--soundfont", action="append",
        help="GM soundfont name or path; repeat it for several libraries, which take turns clip by clip "
        f"(default: {ClipRecipe.soundfont})",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed of the clips")
    p.add_argument(
        "--counts",
        type=int,
        nargs=3,
        default=[400, 80, 120],
        metavar=("TRAIN", "VALID", "TEST"),
        help="clips per split",
    )
    p.add_argument("--min-duration", type=float, default=ClipRecipe.min_duration, help="seconds")
    p.add_argument("--max-duration", type=float, default=ClipRecipe.max_duration, help="seconds")
    p.add_argument("--sample-rate", type=int, default=ClipRecipe.sample_rate, help="Hz")
    p.add_argument(
        "--train-programs", choices=TRAIN_PROGRAMS, default=ClipRecipe.train_programs,
        help="GM programs the train clips may play: the train split's, or the valid split's too (validation then "
        "measures seen programs; the test programs stay unseen)",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=1,
        help="rendering processes (the samples depend slightly on this number; labels.json records it)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite an existing dataset")
    p.set_defaults(run=_run)

"""``spectrolab experiment perceptual-loss``: the perceptual loss against MSE on a tiny generator."""

from __future__ import annotations

import argparse

from spectrolab.cli.train import subcommand_group


def _perceptual_loss(args: argparse.Namespace) -> int:
    from spectrolab.experiments.perceptual_loss import LOSSES, ExperimentConfig, parse_names, run_experiment
    from spectrolab.experiments.sounds import SOUNDS

    config = ExperimentConfig(
        seeds=args.seeds,
        iterations=args.iterations,
        checkpoint_every=args.checkpoint_every,
        sounds=parse_names(args.sounds, SOUNDS),
        losses=parse_names(args.losses, LOSSES),
        threads=args.threads,
    )
    result = run_experiment(config, args.out, force=args.force)
    print(f"{result.files['markdown']}: {len(result.checkpoints)} checkpoints in {result.seconds / 60:.1f} min")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommand_group(subparsers, "experiment", help="reproducible studies that write results/")
    p = group.add_parser("perceptual-loss", help="perceptual losses vs MSE on a tiny generator (issue 13)")
    p.add_argument("--out", default="results/perceptual_loss", help="folder for results.md/json, PNGs and audio/")
    p.add_argument("--seeds", type=int, default=3, help="seeds per sound and loss")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=250, help="measure and save audio every N iterations")
    p.add_argument("--sounds", help="comma-separated subset of: speech, piano, mix, speech_drums, drums")
    p.add_argument("--losses", help="comma-separated subset of: mse, original, ours, ours_masking")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--force", action="store_true", help="overwrite the results in OUT")
    p.set_defaults(run=_perceptual_loss)

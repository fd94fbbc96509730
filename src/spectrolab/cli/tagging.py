"""``spectrolab train tagger``, ``spectrolab eval tagger`` and ``spectrolab tag FILE...``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from spectrolab.cli.energy import add_energy_options, run_measured
from spectrolab.cli.train import PRECISIONS, subcommand_group, train_subparsers
from spectrolab.errors import ConfigError
from spectrolab.tag.names import AGGREGATIONS


def _model_args(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs, values parsed as JSON where they parse (numbers, booleans, lists) else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-arg '{pair}' is not KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _devices(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _train(args: argparse.Namespace) -> int:
    from spectrolab.data.feature_cache import Augment
    from spectrolab.training.runs import quiet_lightning
    from spectrolab.training.tagging import TrainConfig, train_tagger

    config = TrainConfig(
        model=args.model,
        data=args.data,
        out=args.out,
        model_args=_model_args(args.model_arg),
        target=args.target,
        seed=args.seed,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        lr_schedule=args.lr_schedule,
        max_epochs=args.max_epochs,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        patience=args.patience,
        val_every_steps=args.val_every_steps,
        num_chunks=args.eval_chunks,
        val_tracks=args.val_tracks,
        aggregation=args.aggregation,
        devices=args.devices,
        strategy=args.strategy,
        precision=args.precision,
        accelerator=args.accelerator,
        num_workers=args.num_workers,
        balance=args.balance,
        feature_cache=args.feature_cache,
        augment=Augment(
            gain_db=args.aug_gain_db,
            max_shift=args.aug_shift,
            freq_mask=args.aug_freq_mask,
            time_mask=args.aug_time_mask,
            eq_db=args.aug_eq_db,
        ),
        init_from=args.init_from,
        resume=args.resume,
        progress=not args.quiet,
        force=args.force,
    )
    with quiet_lightning(verbose=args.verbose):
        result = train_tagger(config)
    if result.global_rank != 0:  # DDP: the other processes stay quiet
        return 0
    metric = result.metric.removeprefix("val/")
    score = "no validation ran" if result.best_score is None else f"best validation {metric} {result.best_score:.4f}"
    print(f"{score} after {result.steps} steps in {result.train_seconds:.0f} s")
    print(f"model: {result.model_dir}  checkpoint: {result.best_checkpoint}  logs: {result.log_dir}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from spectrolab.audio.io import atomic_write_bytes
    from spectrolab.data.tracks import load_tracks
    from spectrolab.tag.evaluate import evaluate_tagger
    from spectrolab.training.tagging import load_any_tagger

    tagger = load_any_tagger(args.checkpoint)
    tracks = load_tracks(args.data, args.split, target=args.target)
    scores = evaluate_tagger(tagger, tracks, how=args.aggregation, num_chunks=args.eval_chunks)
    report: dict[str, Any] = {
        "split": args.split, "tracks": len(tracks), "aggregation": args.aggregation, **scores.as_dict()
    }  # fmt: skip
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in report.items()))
    if scores.confusion is not None:
        print(scores.confusion_table())
        report |= {"per_class_accuracy": scores.per_class_accuracy(), "labels": scores.labels,
                   "confusion": scores.confusion}  # fmt: skip
    if scores.per_label_roc_auc:
        print("ROC-AUC per tag: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.per_label_roc_auc.items()))
        report["per_label_roc_auc"] = scores.per_label_roc_auc
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode(), force=args.force)
    return 0


def _tag(args: argparse.Namespace) -> int:
    from spectrolab.audio.io import atomic_write_bytes, check_writable
    from spectrolab.tag.predict import SILENCE_DBFS, predict_files
    from spectrolab.tag.taggram import save_taggram
    from spectrolab.training.tagging import load_any_tagger

    if args.top < 1:
        raise ConfigError(f"--top {args.top}: give the number of tags to print per file, at least 1")
    if args.json:
        check_writable(args.json, force=args.force)
    tagger = load_any_tagger(args.model)
    predictions = run_measured(
        args,
        lambda: predict_files(tagger, args.files, how=args.aggregation),
        name=f"tagging, model {Path(args.model).name}",
        unit="song",
        units=len(args.files),
    )
    for prediction in predictions:
        tags = ", ".join(f"{label} {score:.2f}" for label, score in prediction.top(args.top))
        print(f"{prediction.path}: {tags or f'silent (peak below {SILENCE_DBFS:g} dBFS), not tagged'}")
        if args.taggram:
            save_taggram(prediction, Path(args.taggram) / f"{prediction.path.stem}.png", force=args.force)
    if args.json:
        payload = json.dumps([p.to_dict() for p in predictions], indent=2) + "\n"
        atomic_write_bytes(args.json, payload.encode(), force=args.force)
    return 0


def _add_eval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aggregation", choices=AGGREGATIONS, default="mean", help="song-level aggregation of chunks")
    p.add_argument(
        "--eval-chunks",
        type=int,
        default=None,
        help="N evenly spaced chunks per track (default: non-overlapping tiles)",
    )
    p.add_argument("--target", default="instrument_family", help="NSynth data: instrument_family or pitch")


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    p = train_subparsers(subparsers).add_parser("tagger", help="train a music tagger (Lightning)")
    p.add_argument("--model", required=True, help="registered tagger name (see `spectrolab models --task tagging`)")
    p.add_argument("--data", required=True, help="dataset: clips, MagnaTagATune layout or NSynth format")
    p.add_argument("--out", required=True, help="run folder: checkpoints/, logs/, model/")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE", help="builder argument")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--batch-size", type=int, default=16, help="chunks per optimiser step")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant", help="cosine needs --max-steps")
    p.add_argument("--max-epochs", type=int, default=100, help="epoch budget")
    p.add_argument("--max-steps", type=int, default=-1, help="step budget (-1: none)")
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock training budget (default: none)")
    p.add_argument("--val-tracks", type=int, help="validate on this many tracks spread over the split (default all)")
    p.add_argument("--val-every-steps", type=int, help="validate every this many steps (default: after every epoch)")
    p.add_argument("--patience", type=int, default=10, help="early stopping: validations without improvement")
    p.add_argument("--devices", type=_devices, default=1, help="number of devices or 'auto'")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp, ddp_spawn")
    p.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="32-true",
        help="Lightning precision; bf16-mixed trains 1.1-1.8x faster on CPUs with AVX512-BF16 or AMX and many times "
        "slower on others (bench_train_step.py); auto: bf16-mixed where bfloat16 is native, else 32-true",
    )
    p.add_argument("--num-workers", type=int, default=0, help="data loader processes")
    p.add_argument(
        "--balance", action="store_true", help="single-label data: weigh the loss so that every class counts equally"
    )
    p.add_argument(
        "--feature-cache",
        metavar="DIR",
        help="mel taggers: train and validate on log-mels cached (memory-mapped) in DIR, built on first use; "
        "one item per track, its first input_length samples",
    )
    p.add_argument("--aug-gain-db", type=float, default=0.0, help="mel taggers: random gain of the log-mel, +-dB")
    p.add_argument("--aug-shift", type=int, default=0, help="mel taggers: delay onsets by up to N frames")
    p.add_argument("--aug-freq-mask", type=int, default=0, help="mel taggers: mask up to N mel bands")
    p.add_argument("--aug-time-mask", type=int, default=0, help="mel taggers: mask up to N frames")
    p.add_argument(
        "--aug-eq-db", type=float, default=0.0,
        help="mel taggers: a broad random equaliser of the log-mel, at most +-dB (three cosines over the bands)",
    )  # fmt: skip
    p.add_argument(
        "--init-from",
        metavar="TAGGER",
        help="start from the weights of a trained tagger of the same model (built-in name, e.g. notes, or model "
        "directory); its builder arguments are the defaults, and a classifier for other labels starts fresh",
    )
    p.add_argument("--resume", help="checkpoint to resume from (e.g. OUT/checkpoints/last.ckpt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="also show Lightning's own messages and warnings")
    p.add_argument("--force", action="store_true", help="reuse an existing run folder")
    _add_eval_options(p)
    p.set_defaults(run=_train)


def _register_eval(subparsers: argparse._SubParsersAction) -> None:
    group = subcommand_group(subparsers, "eval", help="evaluate a trained model")
    p = group.add_parser("tagger", help="song-level evaluation of a tagger")
    p.add_argument(
        "checkpoint",
        help="built-in tagger (clips, notes), model directory, training run folder (RUN, for RUN/model) or .ckpt",
    )
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"), help="split to evaluate")
    p.add_argument("--json", help="also write the scores to this JSON file")
    p.add_argument("--force", action="store_true", help="overwrite --json")
    _add_eval_options(p)
    p.set_defaults(run=_eval)


def _register_tag(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tag", help="tag audio files with a trained tagger")
    p.add_argument("files", nargs="+", help="audio files")
    p.add_argument(
        "--model",
        default="clips",
        help="built-in tagger: clips (17 tags of multi-instrument clips, the default) or notes (the 11 instrument "
        "families of single notes); or a model directory, training run folder or .ckpt",
    )
    p.add_argument("--top", type=int, default=5, help="tags to print per file (at least 1; more than all: all)")
    p.add_argument("--aggregation", choices=AGGREGATIONS, default=None, help="default: the model's own")
    p.add_argument("--json", help="write all scores and chunk scores to this JSON file")
    p.add_argument("--taggram", help="write a taggram PNG per file into this folder")
    p.add_argument("--force", action="store_true", help="overwrite outputs")
    add_energy_options(p)
    p.set_defaults(run=_tag)


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_train(subparsers)
    _register_eval(subparsers)
    _register_tag(subparsers)

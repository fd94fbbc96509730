"""``spectrolab encode`` / ``decode`` (sound <-> code-grid file) and ``spectrolab train codec``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spectrolab.cli.train import PRECISIONS, train_subparsers


def _encode(args: argparse.Namespace) -> int:
    from spectrolab.audio.io import check_writable
    from spectrolab.codec.api import encode, load_codec

    check_writable(args.output, force=args.force)
    codec = load_codec(args.model)
    grids = encode(args.input, codec=codec)
    grids.save(args.output, force=args.force)
    shapes = ", ".join(
        f"{h}x{w} of {k} codes"
        for (h, w), k in zip((level.shape for level in grids.levels), grids.codebook_sizes, strict=True)
    )
    print(f"{args.output}: {grids.duration:.2f} s -> {shapes} (freq x time); {grids.bitrate:.0f} bit/s")
    return 0


def _decode(args: argparse.Namespace) -> int:
    from spectrolab.audio.io import check_writable
    from spectrolab.codec.api import decode, load_codec
    from spectrolab.codec.codegrid import CodeGrids

    check_writable(args.output, force=args.force)
    codec = load_codec(args.model)
    grids = CodeGrids.load(args.input)
    decode(grids, args.output, codec=codec, force=args.force, allow_mismatch=args.allow_codec_mismatch)
    print(f"{args.output}: {grids.duration:.2f} s at {codec.sample_rate} Hz")
    return 0


def _train(args: argparse.Namespace) -> int:
    from spectrolab.training.codec import CodecTrainConfig, train_codec
    from spectrolab.training.runs import quiet_lightning

    config = CodecTrainConfig(
        data=args.data,
        out=args.out,
        preset=args.preset,
        model_args=json.loads(args.model_args),
        train_notes=args.train_notes,
        val_notes=args.val_notes,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        lr_schedule=args.lr_schedule,
        audio_weight=args.audio_weight,
        if_weight=args.if_weight,
        perceptual_weight=args.perceptual_weight,
        perceptual_preset=args.perceptual_preset,
        level_weight=args.level_weight,
        init_from=args.init_from,
        export=args.export,
        max_minutes=args.max_minutes,
        max_steps=args.max_steps,
        val_every=args.val_every,
        threads=args.threads,
        precision=args.precision,
        seed=args.seed,
        resume=args.resume,
        force=args.force,
    )
    with quiet_lightning(verbose=args.verbose):
        result = train_codec(config)
    lsd = "n/a" if result.best_mel_lsd is None else f"{result.best_mel_lsd:.2f} dB"
    print(f"{result.model_dir}: {result.steps} steps in {result.seconds / 60:.1f} min; best val mel LSD {lsd}")
    return 0


def _model_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, help="codec model directory (default: the shipped codec)")
    parser.add_argument("--force", action="store_true", help="overwrite the output file")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("encode", help="encode a sound into a code-grid file")
    p.add_argument("input", type=Path, help="audio file (resampled to the codec's rate, mixed to mono)")
    p.add_argument("-o", "--output", type=Path, required=True, help="code-grid file to write (.codes)")
    _model_arg(p)
    p.set_defaults(run=_encode)

    p = subparsers.add_parser("decode", help="decode a code-grid file into a sound")
    p.add_argument("input", type=Path, help="code-grid file written by `spectrolab encode`")
    p.add_argument("-o", "--output", type=Path, required=True, help="audio file to write (.wav, .flac, .ogg)")
    _model_arg(p)
    p.add_argument("--allow-codec-mismatch", action="store_true", help="decode even codes another codec made")
    p.set_defaults(run=_decode)

    p = train_subparsers(subparsers).add_parser("codec", help="train a codec preset on NSynth-format notes")
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="NSynth-format folders holding nsynth-train/ and nsynth-valid/ (one per sample library)",
    )
    p.add_argument("--out", required=True, help="run folder: checkpoints/, logs/, and the exported model/")
    p.add_argument("--preset", default="vqvae_default", help="registered codec (see `spectrolab models --task codec`)")
    p.add_argument("--model-args", default="{}", help="JSON overrides of the preset's arguments")
    p.add_argument("--train-notes", type=int, default=2000, help="notes loaded for training, covering every pitch")
    p.add_argument("--batch-size", type=int, default=8, help="crops per optimiser step")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant", help="cosine needs --max-steps")
    p.add_argument("--val-notes", type=int, default=16, help="whole validation notes, shared among the --data folders")
    p.add_argument(
        "--if-weight", type=float, default=1.0, help="IF-channel loss weight (0 for codecs whose phase ignores it)"
    )
    p.add_argument("--audio-weight", type=float, default=0.0, help="multi-resolution STFT loss weight")
    p.add_argument("--perceptual-weight", type=float, default=0.0, help="perceptual (Bark-band) loss weight")
    p.add_argument("--perceptual-preset", default="ours", help="perceptual loss: ours, ours_masking or original")
    p.add_argument(
        "--level-weight",
        type=float,
        default=0.0,
        help="weight of the frames' level error (log total mel power), which keeps quiet decays from coming out "
        "too loud",
    )
    p.add_argument(
        "--init-from",
        metavar="CODEC",
        help="start from the weights of an exported codec of the same preset (model directory); its builder "
        "arguments are the defaults of --model-args",
    )
    p.add_argument(
        "--export",
        default="best",
        help="weights to export: best (validation mel LSD) or last (the final step's, validated once more)",
    )
    p.add_argument("--max-minutes", type=float, default=70.0, help="wall-clock budget (resuming counts past time)")
    p.add_argument("--max-steps", type=int, default=-1, help="step budget (-1: none, the time budget decides)")
    p.add_argument("--val-every", type=int, default=300, help="validate every this many steps")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="32-true",
        help="Lightning precision; the vector quantiser always runs in float32; auto: bf16-mixed where bfloat16 is "
        "native, else 32-true",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--resume", help="checkpoint to resume from (e.g. OUT/checkpoints/last.ckpt)")
    p.add_argument("--verbose", action="store_true", help="also show Lightning's own messages and warnings")
    p.add_argument("--force", action="store_true", help="retrain over an exported model in OUT")
    p.set_defaults(run=_train)

"""How the codec generalises: round trips on unseen programs of its training libraries and on a sample library
it never saw, against the representation's own round trip (the floor).

For each NSynth-format dataset given, notes of its test split (programs never seen in training), dealt over
every pitch, are encoded and decoded; the table gives the mel log-spectral distance and the level error (mean
frame-RMS dB difference over frames within 60 dB of the note's peak, over the whole note and over its 1 s
release alone, where quiet decays show), and writes ``results/codec_generalisation.md``.

    PYTHONPATH=src python scripts/codec_generalisation.py --seen A B C --unseen D [--codec DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from spectrolab import metrics
from spectrolab.codec import Codec, load_codec
from spectrolab.codec.api import DEFAULT_CODEC_DIR
from spectrolab.training.codec import load_notes

RELEASE_START_S = 3.0


def round_trip(codec: Codec, waves: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([codec.decode(codec.encode(waves[i : i + 16])) for i in range(0, len(waves), 16)])


def representation_round_trip(codec: Codec, waves: torch.Tensor) -> torch.Tensor:
    rep = codec.representation
    with torch.inference_mode():
        return torch.cat(
            [rep.inverse(rep(waves[i : i + 16]), length=waves.shape[-1]) for i in range(0, len(waves), 16)]
        )


def scores(reference: torch.Tensor, decoded: torch.Tensor, sample_rate: int) -> dict[str, float]:
    release = int(RELEASE_START_S * sample_rate)
    level = metrics.level_difference_db(reference, decoded)
    decay = metrics.level_difference_db(reference, decoded, start=release)
    return {
        "mel_lsd": float(metrics.mel_log_spectral_distance(reference, decoded, sample_rate=sample_rate).mean()),
        "level": float(level.nanmean()),
        "level_abs_p90": float(level.abs().nanquantile(0.9)),
        "decay": float(decay.nanmean()),
        "decay_abs_p90": float(decay.abs().nanquantile(0.9)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seen", nargs="+", required=True, help="datasets of the training libraries (test split)")
    parser.add_argument("--unseen", nargs="+", required=True, help="datasets of libraries no training used")
    parser.add_argument("--codec", nargs="+", type=Path, default=[DEFAULT_CODEC_DIR], help="codec directories")
    parser.add_argument("--names", nargs="+", help="a name per codec for the table (default: the directories)")
    parser.add_argument("--notes", type=int, default=176, help="test notes per dataset, dealt over every pitch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/codec_generalisation.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.names or [str(d) for d in args.codec]
    if len(names) != len(args.codec):
        parser.error("give one --names entry per --codec directory")
    codecs = {name: load_codec(d) for name, d in zip(names, args.codec, strict=True)}
    rate = next(iter(codecs.values())).sample_rate
    lines = [
        f"Round trips of {args.notes} test-split notes per dataset (every pitch; programs unseen in training). "
        "Level: mean frame-RMS dB difference, decoded - input, over frames within 60 dB of the note's peak "
        f"(mean over notes, and the 90th percentile of |error|); release: the same from {RELEASE_START_S:g} s "
        "(the 1 s decay after note-off). Floor: the representation's own round trip, no codes.",
        "",
        "| dataset | seen library? | model | bit/s | mel LSD (dB) | level (dB) | p90 abs level (dB) "
        "| release level (dB) | p90 abs release (dB) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for data in [*args.seen, *args.unseen]:
        waves, _ = load_notes(data, "test", count=args.notes, sample_rate=rate, seed=0)
        seen = "yes (unseen programs)" if data in args.seen else "**no**"
        rows = [
            (name, f"{codec.bitrate(waves.shape[-1]):.0f}", round_trip(codec, waves)) for name, codec in codecs.items()
        ]
        floor = representation_round_trip(next(iter(codecs.values())), waves)
        rows.append(("floor (representation only)", "-", floor))
        for name, bitrate, decoded in rows:
            s = scores(waves, decoded, rate)
            lines.append(
                f"| {Path(data).name} | {seen} | {name} | {bitrate} | {s['mel_lsd']:.2f} | {s['level']:+.2f} | "
                f"{s['level_abs_p90']:.2f} | {s['decay']:+.2f} | {s['decay_abs_p90']:.2f} |"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Does the perceptual loss help the codec? Trains the same preset twice at the same budget, the default losses
vs the default plus ``--perceptual-weight``, then prints their rate-distortion on held-out programs.

Both runs use ``spectrolab train codec`` settings otherwise identical (seed, data, batch, budget, threads), one
after the other so neither steals the other's CPU, or side by side with ``--jobs 2`` (then give a step budget,
``--minutes 0 --steps N``, which contention cannot bias). The bitrate is the preset's (the loss does not change the
grid); the distortions are those of ``results/codec.md`` plus the band log-spectral distances of the
perceptual-loss experiment and the perceptual loss itself, all on decoded audio against the input.

    PYTHONPATH=src python scripts/perceptual_codec.py --data /tmp/nsynth-fluidr3 --out runs/perceptual_codec \\
        [--minutes 70] [--weight 1.0] [--preset ours] [--notes 176] [--results results/perceptual_codec.md]
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from spectrolab import metrics
from spectrolab.audio.io import atomic_write_bytes
from spectrolab.codec import load_codec
from spectrolab.experiments.perceptual_loss import BANDS
from spectrolab.losses import perceptual_loss
from spectrolab.training.codec import CodecTrainConfig, load_notes, train_codec


def evaluate(model_dir: Path, waves: torch.Tensor, *, preset: str) -> dict[str, float]:
    """Bitrate and distortions (means over notes) of the codec in ``model_dir`` on ``waves`` (N, T)."""
    codec = load_codec(model_dir)
    sr = codec.sample_rate
    heard = perceptual_loss(preset, sample_rate=sr)
    rows: dict[str, list[float]] = {}
    bitrate = 0.0
    with torch.inference_mode():
        for i in range(0, waves.shape[0], 16):
            ref = waves[i : i + 16]
            grids = codec.encode(ref)
            bitrate = grids.bitrate
            out = codec.decode(grids)
            values = {
                "sc": metrics.spectral_convergence(ref, out),
                "lsd": metrics.log_spectral_distance(ref, out),
                "mel_lsd": metrics.mel_log_spectral_distance(ref, out, sample_rate=sr),
                "mrstft": metrics.multi_resolution_stft_distance(ref, out),
                **{
                    key: metrics.band_log_spectral_distance(ref, out, sample_rate=sr, low_hz=lo, high_hz=hi)
                    for key, (lo, hi) in BANDS.items()
                },
            }
            for key, value in values.items():
                rows.setdefault(key, []).extend(value.tolist())
            rows.setdefault("perceptual", []).append(float(heard(out, ref)) * ref.shape[0])
    n = waves.shape[0]
    summary = {key: sum(v) / (n if key == "perceptual" else len(v)) for key, v in rows.items()}
    return {"bitrate": bitrate, **summary}


def markdown(results: dict[str, dict[str, float]], *, args: argparse.Namespace, steps: dict[str, int]) -> str:
    keys = ["bitrate", "sc", "lsd", "mel_lsd", "mrstft", *BANDS, "perceptual"]
    lines = [
        f"Codec `{args.codec_preset}` trained twice for "
        f"{f'{args.minutes:g} min' if args.minutes else f'{args.steps} steps'} on {args.threads} thread(s) (seed "
        f"{args.seed}, data {args.data}); scored on {args.notes} test notes of unseen programs. Lower is better.",
        "",
        "| losses | steps | " + " | ".join(keys) + " |",
        "|---|---:|" + "---:|" * len(keys),
    ]
    for name, row in results.items():
        lines.append(f"| {name} | {steps[name]} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="NSynth-format folder (nsynth-train/valid/test)")
    parser.add_argument("--out", required=True, help="folder for the two runs (default/ and perceptual/)")
    parser.add_argument("--codec-preset", default="vqvae_default")
    parser.add_argument("--minutes", type=float, default=70.0, help="training budget of each run")
    parser.add_argument("--steps", type=int, default=-1, help="step budget instead (with --minutes 0)")
    parser.add_argument("--weight", type=float, default=1.0, help="--perceptual-weight of the second run")
    parser.add_argument("--preset", default="ours", help="perceptual loss preset (ours, ours_masking)")
    parser.add_argument("--notes", type=int, default=176, help="test notes scored")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", help="also write the table to this markdown file")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="train the two runs side by side")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    runs = {"default": 0.0, f"default + {args.weight:g} x perceptual ({args.preset})": args.weight}
    configs = {
        name: CodecTrainConfig(
            data=args.data,
            out=str(Path(args.out) / folder),
            preset=args.codec_preset,
            perceptual_weight=weight,
            perceptual_preset=args.preset,
            max_minutes=args.minutes or None,
            max_steps=args.steps,
            threads=args.threads,
            seed=args.seed,
            force=args.force,
        )
        for (name, weight), folder in zip(runs.items(), ("default", "perceptual"), strict=True)
    }
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        trained = dict(zip(configs, pool.map(train_codec, configs.values()), strict=True))
    results, steps = {}, {}
    for name, run in trained.items():
        steps[name] = run.steps
        print(f"{name}: {run.steps} steps in {run.seconds / 60:.1f} min", flush=True)
        codec = load_codec(run.model_dir)
        waves, _ = load_notes(args.data, "test", count=args.notes, sample_rate=codec.sample_rate, seed=args.seed)
        results[name] = evaluate(run.model_dir, waves, preset=args.preset)
    table = markdown(results, args=args, steps=steps)
    print(table)
    if args.results:
        atomic_write_bytes(args.results, table.encode(), force=args.force)


if __name__ == "__main__":
    main()

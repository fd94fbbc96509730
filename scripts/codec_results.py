"""Rate-distortion of the codecs on held-out programs, against their representations' own round trips.

Evaluates on the test split of an NSynth-format dataset (programs never seen in training), on notes chosen to
cover every pitch, and writes ``results/codec.md``:

- bits per second of the code grids (sum over levels of H * W * log2(K), per second of audio);
- spectral convergence, log-spectral distance (linear and mel) and multi-resolution STFT distance of the
  decoded audio against the input;
- codebook perplexity and unused codes of each level over all evaluated notes;
- the representation's own round trip (analysis then inverse, no codes) as the floor no codec can beat.

    PYTHONPATH=src python scripts/codec_results.py --data /tmp/nsynth-fluidr3 [--notes 176]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from spectrolab import metrics
from spectrolab.codec import Codec, load_codec
from spectrolab.codec.api import DEFAULT_CODEC_DIR
from spectrolab.codec.quantizer import perplexity
from spectrolab.models.registry import read_config
from spectrolab.training.codec import load_notes

NOTONO_DIR = DEFAULT_CODEC_DIR.parent / "codec_notono"


def distortion(reference: torch.Tensor, decoded: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """Mean over notes of each distance between input and decoded audio."""
    return {
        "sc": float(metrics.spectral_convergence(reference, decoded).mean()),
        "lsd": float(metrics.log_spectral_distance(reference, decoded).mean()),
        "mel_lsd": float(metrics.mel_log_spectral_distance(reference, decoded, sample_rate=sample_rate).mean()),
        "mrstft": float(metrics.multi_resolution_stft_distance(reference, decoded).mean()),
    }


def in_batches(fn, waves: torch.Tensor, size: int = 16) -> list:
    return [fn(waves[i : i + size]) for i in range(0, waves.shape[0], size)]


def floor_row(codec: Codec, waves: torch.Tensor, name: str) -> dict:
    rep = codec.representation
    with torch.inference_mode():
        decoded = torch.cat(in_batches(lambda w: rep.inverse(rep(w), length=w.shape[-1]), waves))
    return {"name": name, "bitrate": None, **distortion(waves, decoded, codec.sample_rate), "codes": "", "budget": ""}


def with_phase(directory: Path, phase: str) -> Codec:
    codec = load_codec(directory)
    codec.phase = phase
    return codec


def codec_row(codec: Codec, directory: Path, waves: torch.Tensor, name: str) -> dict:
    with torch.inference_mode():
        grids = in_batches(codec.encode, waves)
        decoded = torch.cat([codec.decode(g) for g in grids])
        start = time.perf_counter()
        for _ in range(5):
            codec.decode(codec.encode(waves[:1]))
        latency = (time.perf_counter() - start) / 5
    usage = []
    for level, size in enumerate(codec.codebook_sizes):
        codes = torch.cat([g.grids[level].flatten() for g in grids])
        unused = int((torch.bincount(codes, minlength=size) == 0).sum())
        usage.append(f"L{level}: {float(perplexity(codes, size)):.0f} / {unused}")
    budget = read_config(directory).get("metadata", {}).get("budget", {})
    return {
        "name": name,
        "bitrate": grids[0].bitrate,
        **distortion(waves, decoded, codec.sample_rate),
        "codes": "; ".join(usage),
        "budget": f"{budget.get('steps', '?')} steps, {budget.get('seconds', 0) / 60:.0f} min" if budget else "",
        "latency": latency,
    }


def markdown(rows: list[dict], *, notes: int, data: str, threads: int) -> str:
    lines = [
        f"Held-out programs: {notes} notes of the test split of `{data}` (programs never seen in training), "
        "covering every pitch 21-108. Distances of decoded audio to the input (lower is better); "
        "`floor` rows are the representation's own round trip without any codes. "
        "Perplexity / unused codes per level over all evaluated notes. "
        "Phase: `decoded IF` integrates the decoder's IF channel (GANSynth, NOTONO); `peak phase` derives it from "
        "the decoded magnitude (spectrolab.codec.phase). "
        f"Latency: encode + decode of one 4 s note, audio to audio, {threads} thread(s), mean of 5.",
        "",
        "| model | bit/s | spectral convergence | LSD (dB) | mel LSD (dB) | MR-STFT | perplexity / unused codes "
        "| training budget | latency (ms) |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in rows:
        bitrate = "-" if r["bitrate"] is None else f"{r['bitrate']:.0f}"
        latency = f"{r['latency'] * 1e3:.0f}" if "latency" in r else "-"
        lines.append(
            f"| {r['name']} | {bitrate} | {r['sc']:.3f} | {r['lsd']:.2f} | {r['mel_lsd']:.2f} | {r['mrstft']:.3f} "
            f"| {r['codes']} | {r['budget']} | {latency} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/nsynth-fluidr3", help="NSynth-format dataset with nsynth-test/")
    parser.add_argument("--notes", type=int, default=176, help="test notes, dealt over every pitch")
    parser.add_argument("--default", type=Path, default=DEFAULT_CODEC_DIR, help="our default codec")
    parser.add_argument("--notono", type=Path, default=NOTONO_DIR, help="the notono preset trained the same way")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/codec.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default, notono = load_codec(args.default), load_codec(args.notono)
    waves, _ = load_notes(args.data, "test", count=args.notes, sample_rate=default.sample_rate, seed=0)
    rows = [
        codec_row(default, args.default, waves, "**vqvae_default** (ours)"),
        codec_row(notono, args.notono, waves, "vqvae_notono (NOTONO shapes, decoded IF)"),
        codec_row(with_phase(args.notono, "peaks"), args.notono, waves, "vqvae_notono with our peak phase"),
        codec_row(with_phase(args.default, "decoded"), args.default, waves, "vqvae_default with decoded IF"),
        floor_row(default, waves, "floor: mel-IF n_fft 1024, 512 mels (default's input)"),
        floor_row(notono, waves, "floor: mel-IF n_fft 2048, 1024 mels (notono's input)"),
    ]
    text = markdown(rows, notes=waves.shape[0], data=args.data, threads=args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

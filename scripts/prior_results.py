"""Results of the code-grid priors and the blur edit -> results/priors.md.

1. Held-out negative log-likelihood in bits per code on the test split (programs unseen in training): each
   cell's log p(code | every other cell) under the position-only unigram (fitted here on the train split),
   the shipped Naive Bayes and the shipped Transformer, without and with the note's pitch and family.
2. Latency of one edit of a 4 s note, file to file (benchmarks/bench_edit_latency.py), median over runs.
3. How well an edit keeps the sound: mean absolute log-mel difference (dB) to the original audio, outside
   and inside the edited region, for the codec's plain round trip and for the edit with each prior; and
   whether the shipped tagger's instrument family for the output agrees with its family for the original.

Needs the encoded grids cached by scripts/train_priors.py (and its dataset for the audio).

    PYTHONPATH=src python scripts/prior_results.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from spectrolab.audio.representations import Representation
from spectrolab.codec import Codec, load_codec
from spectrolab.data.nsynth import NSYNTH_FAMILIES, NSynthDataset
from spectrolab.edit.blur import BlurOptions, blur
from spectrolab.edit.region import Region
from spectrolab.models import create_model
from spectrolab.priors import Prior, bits_per_code
from spectrolab.priors.api import load_prior
from spectrolab.tag.aggregate import aggregate
from spectrolab.tag.inference import song_chunk_logits
from spectrolab.tag.predict import Tagger, load_tagger
from spectrolab.training.prior import EncodedGrids

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_edit_latency import REGION, edit_latencies  # noqa: E402

SMALL_REGION = Region(start_s=1.0, stop_s=1.5, low_hz=500.0, high_hz=1500.0)


def nll_rows(priors: dict[str, Prior], test: EncodedGrids, *, subset: int) -> list[str]:
    """Table rows: bits/code on all test grids (not for the slow transformer) and on an evenly spread subset,
    without and with the labels."""
    spread = test.subset(torch.linspace(0, len(test.grids) - 1, subset).long())
    rows = []
    for name, prior in priors.items():
        full = "-" if name == "transformer" else f"{bits_per_code(prior, test.grids):.3f}"
        plain = bits_per_code(prior, spread.grids)
        labelled = bits_per_code(prior, spread.grids, conditioning=spread.conditioning)
        rows.append(f"| {name} | {full} | {plain:.3f} | {labelled:.3f} |")
        print(rows[-1], flush=True)
    return rows


NEIGHBOURHOODS = {
    "time only (0, +-1)": [[0, -1], [0, 1]],
    "four (+-1, 0), (0, +-1): shipped": [[-1, 0], [1, 0], [0, -1], [0, 1]],
    "eight surrounding cells": [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]],
}


def neighbourhood_rows(train: EncodedGrids, test: EncodedGrids, *, codebook_size: int) -> list[str]:
    """Naive Bayes (alpha 1) fitted on train with each neighbourhood, scored on all test grids."""
    rows = []
    for name, offsets in NEIGHBOURHOODS.items():
        nb = create_model(
            "prior_naive_bayes", codebook_size=codebook_size, height=train.grids.shape[1], offsets=offsets
        ).fit(train.grids, conditioning=train.conditioning)
        rows.append(f"| {name} | {bits_per_code(nb, test.grids):.3f} |")
    return rows


def log_mel_db(wave: torch.Tensor, representation: Representation) -> torch.Tensor:
    """(F, N) log-mel power in dB, floored 80 dB below its maximum."""
    with torch.inference_mode():
        db = representation(wave)[0, 0] * (10 / math.log(10))
    return db.clamp_min(db.max() - 80)


def region_mask(region: Region, representation: Representation, frames: int) -> torch.Tensor:
    """(F, N) bool: spectrogram bins whose centre lies in the region."""
    hz = representation.frequencies()
    seconds = torch.arange(frames) * representation.config.hop_length / representation.sample_rate
    rows = (hz >= region.low_hz) & (hz < region.high_hz)
    cols = (seconds >= region.start_s) & (seconds < region.stop_s)
    return rows[:, None] & cols[None, :]


def change_db(reference: torch.Tensor, other: torch.Tensor, inside: torch.Tensor) -> tuple[float, float]:
    diff = (reference - other).abs()
    return float(diff[~inside].mean()), float(diff[inside].mean())


def predicted_families(tagger: Tagger, waves: list[torch.Tensor]) -> list[int]:
    """The family (index into NSYNTH_FAMILIES) the tagger scores highest for each wave (T,)."""
    columns = [tagger.labels.index(family) for family in NSYNTH_FAMILIES]
    logits = song_chunk_logits(tagger.model, waves, length=tagger.input_length)
    scores = [aggregate(x, how=tagger.aggregation, multilabel=tagger.multilabel) for x in logits]  # type: ignore[arg-type]
    return [int(score[columns].argmax()) for score in scores]


def spectral_change_rows(
    codec: Codec, priors: dict[str, Prior], dataset: NSynthDataset, tagger: Tagger, *, notes: int
) -> list[str]:
    """Per region and output: mean dB change outside and inside the edited cells, and how often the tagger's
    family for the output agrees with its family for the original note."""
    rep = codec.representation
    rows = []
    for label, region in (("1.0 s x 200-4000 Hz", REGION), ("0.5 s x 500-1500 Hz", SMALL_REGION)):
        sums: dict[str, list[float]] = {}
        agree: dict[str, int] = {}
        for index in torch.linspace(0, len(dataset) - 1, notes).long().tolist():
            wave = dataset[index]["input"][None]
            reference = log_mel_db(wave, rep)
            with torch.inference_mode():
                round_trip = codec.decode(codec.encode(wave))
            outputs = {"codec round trip (no edit)": round_trip}
            for name, prior in priors.items():
                edited = blur(wave, codec=codec, prior=prior, region=region, options=BlurOptions())
                outputs[f"blur, {name}"] = edited.wave
            inside = region_mask(edited.region, rep, reference.shape[-1])
            original, *families = predicted_families(tagger, [wave[0]] + [out[0] for out in outputs.values()])
            for (name, out), family in zip(outputs.items(), families, strict=True):
                sums.setdefault(name, []).extend(change_db(reference, log_mel_db(out, rep), inside))
                agree[name] = agree.get(name, 0) + int(family == original)
        for name, values in sums.items():
            outside, inside_mean = sum(values[0::2]) / notes, sum(values[1::2]) / notes
            rows.append(f"| {label} | {name} | {outside:.2f} | {inside_mean:.2f} | {agree[name]}/{notes} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="out/prior_data/nsynth")
    parser.add_argument("--cache", default="out/prior_data/encoded")
    parser.add_argument("--codec", help="codec directory (default: shipped)")
    parser.add_argument("--nb", default="nb")
    parser.add_argument("--transformer", default="transformer")
    parser.add_argument("--subset", type=int, default=8, help="test grids every prior (transformer too) scores")
    parser.add_argument("--edit-notes", type=int, default=16, help="test notes edited for the spectral change")
    parser.add_argument("--runs", type=int, default=20, help="runs of the latency median")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/priors.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train = EncodedGrids(**load_file(str(Path(args.cache) / "train.safetensors")))
    test = EncodedGrids(**load_file(str(Path(args.cache) / "test.safetensors")))
    codec = load_codec(args.codec)
    size, height = codec.codebook_sizes[0], train.grids.shape[1]
    unigram = create_model("prior_unigram", codebook_size=size, height=height, alpha=0.1).fit(train.grids)
    priors: dict[str, Prior] = {"naive bayes": load_prior(args.nb), "transformer": load_prior(args.transformer)}
    nll = nll_rows({"unigram (row only)": unigram, **priors}, test, subset=args.subset)
    ablation = neighbourhood_rows(train, test, codebook_size=size)
    latency = edit_latencies(
        codec=codec, priors={"naive bayes": args.nb, "transformer": args.transformer}, runs=args.runs
    )
    print(latency, flush=True)
    dataset = NSynthDataset(args.data, "test", fields=())
    change = spectral_change_rows(codec, priors, dataset, load_tagger(), notes=args.edit_notes)
    print("\n".join(change), flush=True)
    peer = latency["codec round trip (peer)"]
    lines = [
        f"Priors over the {height} x {train.grids.shape[2]} grid of {size} codes of the shipped codec; "
        f"trained on {len(train.grids)} notes, scored on {len(test.grids)} test notes of unseen programs.",
        "",
        f"| prior | bits/code, all {len(test.grids)} test grids | bits/code, {args.subset} of them | "
        "same, given pitch + family |",
        "|---|---|---|---|",
        *nll,
        "",
        f"Bits per code: mean -log2 p(code | all other cells) (the transformer hides each cell alone in turn, "
        f"so it is scored on the subset only); a uniform guess costs {math.log2(size):.0f} bits.",
        "",
        f"Naive Bayes neighbourhoods (alpha 1), bits/code on all {len(test.grids)} test grids:",
        "",
        "| neighbours | bits/code |",
        "|---|---|",
        *ablation,
        "",
        f"Edit latency, 4 s note, file to file (load, encode, resample, decode, invert, save), median of "
        f"{args.runs} runs, {args.threads} thread(s) on the shared 2-core CPU:",
        "",
        "| pipeline | ms | x round trip |",
        "|---|---|---|",
        *(f"| {name} | {ms:.1f} | {ms / peer:.2f} |" for name, ms in latency.items()),
        "",
        f"Spectral change on {args.edit_notes} test notes: mean |log-mel difference| (dB, floored 80 dB below "
        "peak) to the original audio, outside and inside the edited cells' span (the requested region rounded out "
        "to whole cells; temperature 1, 8 steps, seed 0), and how often the shipped tagger (assets/tagger_default, "
        "its highest-scoring of the 11 family tags) gives the output the family it gives the original note:",
        "",
        "| region | output | outside (dB) | inside (dB) | tagger's family agrees with the original's |",
        "|---|---|---|---|---|",
        *change,
        "",
        "Produced by `PYTHONPATH=src python scripts/prior_results.py`.",
    ]
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Results of the code-grid priors and the blur edit -> results/priors.md.

1. Held-out negative log-likelihood in bits per code on the test split (programs unseen in training): each
   cell's log p(code | every other cell) under the position-only unigram (fitted here on the train split),
   the shipped Naive Bayes and the shipped Transformer, without and with the note's pitch and family. The
   Transformer hides each cell alone in turn (one sequence per cell) on ``--subset`` test grids spread evenly
   over the split; on every test grid it is scored with the cells of a 4 x 4 lattice hidden together
   (:func:`~spectrolab.priors.lattice_log_prob`, 16 sequences per grid, a cautious figure for it; for Naive
   Bayes and the unigram the same as one cell alone). With ``--library``, also on every
   ``--library-every``-th test note of another sample library (encoded here, then cached).
2. How well an edit keeps the sound: mean absolute log-mel difference (dB) to the original audio, outside
   and inside the edited region, for the codec's plain round trip and for the edit with each prior; and
   whether the shipped tagger's instrument family for the output agrees with its family for the original.
   (The edit's latency is results/edit_latency.md, by benchmarks/bench_edit_latency.py.)

Needs the encoded grids cached by scripts/train_priors.py (and its dataset for the audio).

    PYTHONPATH=src python scripts/prior_results.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from spectrolab.audio.representations import Representation
from spectrolab.codec import Codec, load_codec
from spectrolab.data.nsynth import NSYNTH_FAMILIES, NSynthDataset
from spectrolab.edit.blur import BlurOptions, blur
from spectrolab.edit.region import Region
from spectrolab.models import create_model
from spectrolab.priors import Prior, bits_per_code
from spectrolab.priors.api import load_prior
from spectrolab.sampling import DEFAULT_STEPS
from spectrolab.tag.aggregate import aggregate
from spectrolab.tag.inference import song_chunk_logits
from spectrolab.tag.predict import Tagger, load_tagger
from spectrolab.training.prior import EncodedGrids, encode_dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_edit_latency import NOTE_REGION as REGION  # noqa: E402

SMALL_REGION = Region(start_s=1.0, stop_s=1.5, low_hz=500.0, high_hz=1500.0)


def spread(grids: EncodedGrids, count: int) -> EncodedGrids:
    """``count`` grids evenly spread over ``grids`` (all of them if there are fewer)."""
    return grids.subset(torch.linspace(0, len(grids.grids) - 1, min(count, len(grids.grids))).round().long())


LATTICE = 4


def nll_rows(priors: dict[str, Prior], test: EncodedGrids, *, subset: int, labelled: int, label: str) -> list[str]:
    """Table rows: bits/code on all test grids (the transformer: lattice-hidden), with the labels (not for the
    transformer), on an evenly spread subset without them, and on a smaller spread subset with them."""
    some, fewer = spread(test, subset), spread(test, labelled)
    rows = []
    for name, prior in priors.items():
        whole = name != "transformer"
        cells = [
            f"{bits_per_code(prior, test.grids):.3f}"
            if whole
            else f"{bits_per_code(prior, test.grids, lattice=LATTICE):.3f} †",
            f"{bits_per_code(prior, test.grids, conditioning=test.conditioning):.3f}" if whole else "-",
            f"{bits_per_code(prior, some.grids):.3f}",
            f"{bits_per_code(prior, fewer.grids, conditioning=fewer.conditioning):.3f}",
        ]
        rows.append(f"| {label} | {name} | {' | '.join(cells)} |")
        print(rows[-1], flush=True)
    return rows


def library_grids(folder: Path, codec: Codec, *, cache: Path, every: int) -> EncodedGrids:
    """Every ``every``-th test note of another library, encoded (cached in ``cache``)."""
    path = cache / f"library_{folder.name}_test_every{every}.safetensors"
    if not path.is_file():
        dataset = NSynthDataset(folder, "test", fields=("pitch", "instrument_family"))
        encoded = encode_dataset(dataset, codec, indices=range(0, len(dataset), every))
        save_file({k: v.contiguous() for k, v in encoded.tensors().items()}, str(path))
    return EncodedGrids(**load_file(str(path)))


def ratio_line(rows: list[str]) -> str:
    """Transformer over Naive Bayes without labels, per grid set: on every grid (lattice-hidden) and on the
    spread subset (one cell hidden)."""
    parts = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if cells[1] == "naive bayes":
            nb_all, nb_some = float(cells[2]), float(cells[4])
        elif cells[1] == "transformer":
            every, some = float(cells[2].rstrip(" †")) / nb_all, float(cells[4]) / nb_some
            parts.append(f"{cells[0]}: {every:.2f}x on every grid, {some:.2f}x on the spread subset")
    return "Transformer over Naive Bayes, without labels: " + "; ".join(parts) + "."


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
    codec: Codec, priors: dict[str, Prior], dataset: NSynthDataset, tagger: Tagger, *, notes: int, options: BlurOptions
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
                edited = blur(wave, codec=codec, prior=prior, region=region, options=options)
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
    parser.add_argument("--data", default="data/notes3")
    parser.add_argument("--cache", default="out/prior_data/encoded")
    parser.add_argument("--library", help="another sample library (NSynth format): its test split is scored too")
    parser.add_argument("--library-every", type=int, default=10, help="score every N-th note of the library")
    parser.add_argument("--codec", help="codec directory (default: shipped)")
    parser.add_argument("--nb", default="nb")
    parser.add_argument("--transformer", default="transformer")
    parser.add_argument("--subset", type=int, default=100, help="test grids every prior scores one cell at a time")
    parser.add_argument("--labelled", type=int, default=30, help="test grids scored given their labels")
    parser.add_argument("--library-subset", type=int, default=40, help="grids of the other library scored")
    parser.add_argument("--ablation", type=int, default=2000, help="test grids scoring the NB neighbourhoods")
    parser.add_argument("--temperature", type=float, default=0.7, help="of the edits")
    parser.add_argument("--edit-notes", type=int, default=16, help="test notes edited for the spectral change")
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
    scored = {"unigram (row only)": unigram, **priors}
    counts = {"subset": args.subset, "labelled": args.labelled}
    nll = nll_rows(scored, test, **counts, label=f"unseen programs ({len(test.grids)})")
    library = ""
    if args.library:
        other = library_grids(Path(args.library), codec, cache=Path(args.cache), every=args.library_every)
        label = f"other library ({len(other.grids)})"
        few = min(args.library_subset, args.labelled)
        nll += nll_rows(scored, other, subset=args.library_subset, labelled=few, label=label)
        library = f" (the other library: {min(args.library_subset, len(other.grids))} and {few})"
    ablation = neighbourhood_rows(train, spread(test, args.ablation), codebook_size=size)
    dataset = NSynthDataset(args.data, "test", fields=())
    options = BlurOptions(temperature=args.temperature)
    change = spectral_change_rows(codec, priors, dataset, load_tagger(), notes=args.edit_notes, options=options)
    print("\n".join(change), flush=True)
    lines = [
        f"Priors over the {height} x {train.grids.shape[2]} grid of {size} codes of the shipped codec; "
        f"trained on all {len(train.grids)} train notes, scored on the {len(test.grids)} test notes of "
        "unseen programs.",
        "",
        f"| grids | prior | bits/code, all | same, given pitch + family | bits/code, {args.subset} spread "
        f"| same, {args.labelled} spread, given pitch + family |",
        "|---|---|---|---|---|---|",
        *nll,
        "",
        f"Bits per code: mean -log2 p(code | all other cells); a uniform guess costs {math.log2(size):.0f} bits. "
        f"The transformer hides each cell alone in turn (one sequence per cell) on test grids evenly spread over "
        f"the split: {min(args.subset, len(test.grids))} without labels, {min(args.labelled, len(test.grids))} "
        f"with them{library}. † On every grid it hides the cells of a {LATTICE} x {LATTICE} lattice together "
        f"({LATTICE**2} sequences per grid; it then sees {1 - 1 / LATTICE**2:.0%} of the other cells, so the "
        "figure is cautious for it; for Naive Bayes and the unigram, whose neighbours are never hidden together, "
        "it equals the one-cell figure, as tests/test_priors.py checks). " + ratio_line(nll),
        "",
        f"Naive Bayes neighbourhoods (alpha 1, fitted on all train grids), bits/code on "
        f"{min(args.ablation, len(test.grids))} test grids spread over the split:",
        "",
        "| neighbours | bits/code |",
        "|---|---|",
        *ablation,
        "",
        f"Spectral change on {args.edit_notes} test notes: mean |log-mel difference| (dB, floored 80 dB below "
        "peak) to the original audio, outside and inside the edited cells' span (the requested region rounded out "
        f"to whole cells; the code-grid edit alone, decoded whole; temperature {args.temperature:g}, "
        f"{DEFAULT_STEPS} steps, seed 0), and how often the shipped tagger (assets/tagger_default, its "
        "highest-scoring of the 11 family tags) gives the output the family it gives the original note:",
        "",
        "| region | output | outside (dB) | inside (dB) | tagger's family agrees with the original's |",
        "|---|---|---|---|---|",
        *change,
        "",
        f"Produced by `PYTHONPATH=src python scripts/prior_results.py {' '.join(sys.argv[1:])}`.",
    ]
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

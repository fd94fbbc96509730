"""Evaluate the shipped notes tagger (``spectrolab tag --model notes``) and write results/tagging_notes.md.

Instrument-family top-1 accuracy (11 NSynth families, one 4 s note = one chunk), on waveforms:

* **held-out library** (``--heldout``): csound's sf_GMbank rendered in NSynth format, a sample library that no
  training, tuning or model selection used: its test split (whose GM programs no training library taught
  either) and, when all three are evaluated, all its splits; with the confusion matrix;
* **unseen programs** (``--seen``): the test split of the training merge, programs held out from training but
  rendered by the training libraries.

The shipped clips tagger (the default; its 17 tags include the 11 families) is scored on the held-out test
split as a baseline. Each evaluation is cached in ``--work``/<name>.json, keyed by the SHA-256 of the weights
and a digest of the notes; ``--evaluate NAME...`` runs only those that are missing, and the table shows every
cached one, so the evaluations can be spread over several sessions.

    PYTHONPATH=src python scripts/tagging_notes_results.py [--evaluate heldout-test seen-test]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import torch

from spectrolab.data.feature_cache import tracks_digest
from spectrolab.data.nsynth_format import SPLITS, read_examples, split_dir
from spectrolab.data.tracks import load_tracks
from spectrolab.paths import SHIPPED_TAGGERS
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.metrics import TaggingScores
from spectrolab.tag.predict import load_tagger

ROOT = Path(__file__).resolve().parent.parent


def weights_digest(name: str) -> str:
    return hashlib.sha256((SHIPPED_TAGGERS[name] / "model.safetensors").read_bytes()).hexdigest()


# name -> (shipped tagger, dataset argument, split); each is cached in WORK/<name>.json
EVALUATIONS: dict[str, tuple[str, str, str]] = {
    "heldout-test": ("notes", "heldout", "test"),
    "heldout-valid": ("notes", "heldout", "valid"),
    "heldout-train": ("notes", "heldout", "train"),
    "seen-test": ("notes", "seen", "test"),
    "baseline-test": ("clips", "heldout", "test"),
}


def evaluation(name: str, args: argparse.Namespace, *, run: bool) -> dict[str, Any] | None:
    """Evaluation ``name`` of :data:`EVALUATIONS`: the cached result if it matches the weights and the data,
    else computed (``run``) or ``None``."""
    tagger, data_arg, split = EVALUATIONS[name]
    data = getattr(args, data_arg)
    tracks = load_tracks(data, split)
    key = {"tagger": tagger, "weights": weights_digest(tagger), "data": str(Path(data).resolve()), "split": split,
           "tracks": tracks_digest(tracks)}  # fmt: skip
    cache = Path(args.work) / f"{name}.json"
    if cache.is_file() and (cached := json.loads(cache.read_text()))["key"] == key:
        return cached
    if not run:
        return None
    print(f"evaluating the {tagger} tagger on {data} {split} ({len(tracks)} notes)", flush=True)
    start = time.perf_counter()
    scores = evaluate_tagger(load_tagger(SHIPPED_TAGGERS[tagger]), tracks)
    result = {"key": key, "notes": len(tracks), "seconds": time.perf_counter() - start,
              "threads": torch.get_num_threads(), "accuracy": scores.accuracy, "labels": scores.labels,
              "confusion": scores.confusion}  # fmt: skip
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=1) + "\n")
    return result


def programs(data: str, split: str) -> int:
    """How many instruments (GM programs) the split holds."""
    return len({e["instrument_str"] for e in read_examples(split_dir(data, split)).values()})


def merged(results: list[dict[str, Any]]) -> TaggingScores:
    """One confusion matrix over several evaluations with the same labels."""
    labels = results[0]["labels"]
    confusion = [[sum(r["confusion"][i][j] for r in results) for j in range(len(labels))] for i in range(len(labels))]
    correct = sum(confusion[i][i] for i in range(len(labels)))
    return TaggingScores(accuracy=correct / sum(map(sum, confusion)), labels=labels, confusion=confusion)


def markdown_confusion(scores: TaggingScores) -> list[str]:
    assert scores.labels is not None and scores.confusion is not None
    per_class = scores.per_class_accuracy()
    lines = ["| true \\ predicted | " + " | ".join(scores.labels) + " | accuracy |"]
    lines.append("|---|" + "---:|" * (len(scores.labels) + 1))
    for label, row in zip(scores.labels, scores.confusion, strict=True):
        cells = [f"**{n}**" if j == scores.labels.index(label) else str(n) for j, n in enumerate(row)]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {per_class.get(label, float('nan')):.3f} |")
    return lines


def libraries(recipe: dict[str, Any] | None) -> list[str]:
    """The sample libraries behind a dataset recipe: its render's, its merge's sources', its round trip's source's."""
    if not recipe:
        return []
    if "soundfont_path" in recipe:
        return [Path(recipe["soundfont_path"]).stem]
    found = [lib for r in (recipe.get("recipes") or {}).values() for lib in libraries(r)]
    return sorted(set(found + libraries(recipe.get("source_recipe"))))


def round_trips(recipe: dict[str, Any] | None) -> str:
    """``; with ...`` naming the codec round trips (``spectrolab data roundtrip``) merged into the data, if any."""
    trips = [r for r in ((recipe or {}).get("recipes") or {}).values() if r and "source_recipe" in r]
    return "".join(
        f"; with the codec round trips (`{r['codec']}` `{r['sha256'][:12]}`, `spectrolab data roundtrip`) of every "
        f"{r['every']}th note of {Path(r['source']).name}"
        for r in trips
    )


def sources(meta: dict[str, Any]) -> str:
    """The sample libraries of the training data, from the merge's recipe."""
    names = libraries(meta.get("data_recipe"))
    return ("merged notes of " + ", ".join(names) if names else "rendered notes") + round_trips(meta.get("data_recipe"))


def train_notes(meta: dict[str, Any]) -> str:
    notes = ((meta.get("data_recipe") or {}).get("notes") or {}).get("train")
    return f"{notes:,}" if notes else "all"


def warm_start(meta: dict[str, Any]) -> str:
    """`` started from ...`` naming the tagger a warm-started one began from, and what that one cost."""
    warm = meta.get("warm_start")
    if not warm:
        return ""
    source = warm["source_budget"]
    joules = (source.get("training_energy") or {}).get("joules")
    spent = f", {joules[0] / 1e3:.1f}-{joules[1] / 1e3:.1f} kJ" if joules else ""
    return (
        f" Its weights started from the previous notes tagger (`{warm['sha256'][:12]}`: {source['steps']} steps in "
        f"{source['train_seconds'] / 60:.1f} min on {', '.join(libraries(source.get('data_recipe')))}{spent})."
    )


def recipe(meta: dict[str, Any]) -> str:
    train, energy = meta["train"], meta.get("training_energy") or {}
    args = ", ".join(f"{k}={v}" for k, v in sorted(train["model_args"].items()))
    augment = ", ".join(f"{k} {v:g}" for k, v in train["augment"].items() if v)
    joules = energy.get("joules")
    cpu = (energy.get("assumptions") or {}).get("cpu_seconds")
    spent = f", {cpu / 60:.1f} CPU min" if cpu else ""
    spent += f"; {joules[0] / 1e3:.1f}-{joules[1] / 1e3:.1f} kJ, {energy['method']}" if joules else ""
    budget = f"{train['max_minutes']:g} min wall-clock budget"
    if train.get("max_steps", -1) > 0:
        budget = f"{train['max_steps']}-step {train.get('lr_schedule', 'constant')} schedule, capped at {budget}"
    every = (meta.get("data_recipe") or {}).get("valid_every")
    valid = (
        f"every {every}th note of the merge's train and valid programs (held out as notes, not as programs)"
        if every else "the merge's valid split"
    )  # fmt: skip
    return (
        f"`{train['model']}` ({args}; {meta['parameters'] / 1e6:.2f} M parameters) trained by `spectrolab train "
        f"tagger --feature-cache` on {Path(train['data']).name} ({sources(meta)}; {train_notes(meta)} training "
        f"notes): "
        f"seed {train['seed']}, batch {train['batch_size']}, AdamW lr {train['learning_rate']:g}, "
        f"{budget} on one CPU thread ({meta['steps']} steps, "
        f"{meta['train_seconds'] / 60:.1f} min{spent}); augmentations: {augment or 'none'}; the checkpoint with the "
        f"best accuracy on {f'{n} notes of ' if (n := train['val_tracks']) else ''}{valid} was kept "
        f"({next(iter(meta['best_score'].values())):.3f})." + warm_start(meta)
    )


def write(args: argparse.Namespace) -> None:
    done = {name: evaluation(name, args, run=name in args.evaluate) for name in EVALUATIONS}
    meta = json.loads((SHIPPED_TAGGERS["notes"] / "config.json").read_text())["metadata"]
    library = Path(args.heldout).name
    rows = []
    if (test := done["heldout-test"]) is not None:
        base = done["baseline-test"]
        rows.append(
            f"| held-out library ({library}), test split: {programs(args.heldout, 'test')} programs that no training "
            f"used either | {test['notes']} "
            f"| **{test['accuracy']:.3f}** | {'–' if base is None else format(base['accuracy'], '.3f')} |"
        )
    whole = [r for n, r in done.items() if n.startswith("heldout-") and r is not None]
    every = len(whole) == 3
    if every:
        rows.append(
            f"| held-out library ({library}), all splits: {sum(programs(args.heldout, s) for s in SPLITS)} programs, "
            "most of which the training libraries also rendered | "
            f"{sum(r['notes'] for r in whole)} | **{merged(whole).accuracy:.3f}** | – |"
        )
    if (seen := done["seen-test"]) is not None:
        rows.append(
            f"| unseen programs of the training libraries ({Path(args.seen).name} test, "
            f"{programs(args.seen, 'test')} programs, each rendered by the training libraries) | {seen['notes']} | "
            f"{seen['accuracy']:.3f} | – |"
        )
    shown = merged(whole) if every else merged([test]) if test is not None else None
    lines = [
        "# Notes tagger: instrument family of single notes",
        "",
        "Produced by `scripts/tagging_notes_results.py`. `spectrolab tag --model notes` is " + recipe(meta),
        "",
        "Top-1 family accuracy (11 NSynth families; one 4 s note per chunk; chance 1/11 = 0.091 on the balanced "
        "test splits), evaluated on waveforms by `spectrolab eval tagger`'s code:",
        "",
        "| evaluation | notes | notes tagger | clips tagger (default) |",
        "|---|---:|---:|---:|",
        *rows,
    ]
    if shown is not None:
        notes = sum(map(sum, shown.confusion or []))
        lines += [
            "",
            f"Confusion matrix of the notes tagger on the held-out library ({'all splits' if every else 'test split'}"
            f", {notes} notes; rows: true family, columns: predicted):",
            "",
            *markdown_confusion(shown),
        ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heldout", default="/work/data/nsynth-sf_GMbank", help="NSynth-format notes of a held-out library")
    p.add_argument(
        "--evaluate", nargs="*", default=list(EVALUATIONS), choices=EVALUATIONS,
        help="evaluations to run if not cached (the table shows every cached one)",
    )  # fmt: skip
    p.add_argument("--seen", default="/work/data/notes3", help="the training merge (its test split is evaluated)")
    p.add_argument("--work", default=str(ROOT / "results" / "tagging_notes"), help="cached evaluations")
    p.add_argument("--out", default=str(ROOT / "results" / "tagging_notes.md"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    write(args)


if __name__ == "__main__":
    main()

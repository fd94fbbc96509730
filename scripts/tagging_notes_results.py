"""Evaluate the shipped notes tagger (``spectrolab tag --model notes``) and write results/tagging_notes.md.

Two evaluations of instrument-family top-1 accuracy (11 NSynth families, one 4 s note = one chunk):

* **held-out library**: every note of csound's sf_GMbank rendered in NSynth format (``--heldout``), a sample
  library that no training, tuning or model selection used; with its confusion matrix;
* **unseen programs**: the test split of the training merge (``--seen``), programs held out from training but
  rendered by the training libraries.

The shipped clips tagger (the default, 17 tags including the 11 families) is scored on the same held-out notes
as a baseline. Each evaluation is cached in ``--work``/<name>.json, keyed by the SHA-256 of the weights and the
data, so that rerunning only rewrites the table.

    PYTHONPATH=src python scripts/tagging_notes_results.py
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
from spectrolab.data.tracks import load_tracks
from spectrolab.paths import SHIPPED_TAGGERS
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.metrics import TaggingScores
from spectrolab.tag.predict import load_tagger

ROOT = Path(__file__).resolve().parent.parent


def weights_digest(name: str) -> str:
    return hashlib.sha256((SHIPPED_TAGGERS[name] / "model.safetensors").read_bytes()).hexdigest()


def evaluation(name: str, data: str, split: str, work: Path) -> dict[str, Any]:
    """Top-1 accuracy and confusion of shipped tagger ``name`` on ``split`` of ``data`` (cached)."""
    tracks = load_tracks(data, split)
    key = {"tagger": name, "weights": weights_digest(name), "data": str(Path(data).resolve()), "split": split,
           "tracks": tracks_digest(tracks)}  # fmt: skip
    cache = work / f"{name}-{Path(data).name}-{split}.json"
    if cache.is_file() and (cached := json.loads(cache.read_text()))["key"] == key:
        return cached
    print(f"evaluating {name} on {data} {split} ({len(tracks)} notes)", flush=True)
    start = time.perf_counter()
    scores = evaluate_tagger(load_tagger(SHIPPED_TAGGERS[name]), tracks)
    result = {"key": key, "notes": len(tracks), "seconds": time.perf_counter() - start,
              "threads": torch.get_num_threads(), "accuracy": scores.accuracy, "labels": scores.labels,
              "confusion": scores.confusion}  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=1) + "\n")
    return result


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


def recipe(meta: dict[str, Any]) -> str:
    train, energy = meta["train"], meta.get("training_energy") or {}
    args = ", ".join(f"{k}={v}" for k, v in sorted(train["model_args"].items()))
    augment = ", ".join(f"{k} {v:g}" for k, v in train["augment"].items() if v)
    joules = energy.get("joules")
    spent = f", {joules[0] / 1e3:.1f}-{joules[1] / 1e3:.1f} kJ ({energy.get('method', 'estimated')})" if joules else ""
    return (
        f"`{train['model']}` ({args}; {meta['parameters'] / 1e6:.2f} M parameters) trained by `spectrolab train "
        f"tagger --feature-cache` on {train['data']} ({meta.get('data_sources') or 'the merged libraries'}): "
        f"seed {train['seed']}, batch {train['batch_size']}, AdamW lr {train['learning_rate']:g}, "
        f"{train['max_minutes']:g} min wall-clock budget on one CPU thread ({meta['steps']} steps, "
        f"{meta['train_seconds'] / 60:.1f} min{spent}); augmentations: {augment or 'none'}; the checkpoint with the "
        f"best accuracy on {train['val_tracks'] or 'all'} notes of the merge's valid split was kept "
        f"({next(iter(meta['best_score'].values())):.3f})."
    )


def write(args: argparse.Namespace) -> None:
    work = Path(args.work)
    heldout = [evaluation("notes", args.heldout, s, work) for s in args.heldout_splits]
    seen = evaluation("notes", args.seen, "test", work)
    baseline = [evaluation("clips", args.heldout, s, work) for s in args.heldout_splits]
    meta = json.loads((SHIPPED_TAGGERS["notes"] / "config.json").read_text())["metadata"]
    held, base = merged(heldout), merged(baseline)
    splits = " + ".join(args.heldout_splits)
    notes = sum(r["notes"] for r in heldout)
    lines = [
        "# Notes tagger: instrument family of single notes",
        "",
        "Produced by `scripts/tagging_notes_results.py`. `spectrolab tag --model notes` is " + recipe(meta),
        "",
        "Top-1 family accuracy (11 NSynth families; one 4 s note per chunk; chance 1/11 = 0.091 on the balanced "
        "splits):",
        "",
        "| evaluation | notes | notes tagger | clips tagger (default) |",
        "|---|---:|---:|---:|",
        f"| held-out library: sf_GMbank ({Path(args.heldout).name}, {splits}), no training used it | {notes} | "
        f"**{held.accuracy:.3f}** | {base.accuracy:.3f} |",
        f"| unseen programs of the training libraries ({Path(args.seen).name} test) | {seen['notes']} | "
        f"{seen['accuracy']:.3f} | – |",
        "",
        f"Confusion matrix of the notes tagger on the held-out library ({notes} notes; rows: true family):",
        "",
        *markdown_confusion(held),
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heldout", default="/work/data/nsynth-sf_GMbank", help="NSynth-format notes of a held-out library")
    p.add_argument("--heldout-splits", nargs="+", default=["test"], choices=("train", "valid", "test"))
    p.add_argument("--seen", default="/work/data/notes3", help="the training merge (its test split is evaluated)")
    p.add_argument("--work", default=str(ROOT / "results" / "tagging_notes"), help="cached evaluations")
    p.add_argument("--out", default=str(ROOT / "results" / "tagging_notes.md"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    write(args)


if __name__ == "__main__":
    main()

"""Evaluate clip taggers (the default of ``spectrolab tag``) on held-out clips and write results/tagging_clips.md.

Song-level macro ROC-AUC and PR-AUC over the 17 tags (11 instrument families, major/minor, slow/medium/fast,
drums), mean of sigmoids over non-overlapping chunks, and each tag's ROC-AUC, on clip datasets rendered by
``spectrolab data clips``. Every test split holds GM programs that no training clip used:

* ``fluidr3-48``: the 48 test clips (spread over the split) on which the first shipped tagger was reported;
* ``fluidr3``: all 120 test clips of that FluidR3_GM dataset (seed 0);
* ``libraries``: the test split of the training data's own recipe (its libraries take turns);
* ``heldout``: test clips played by a sample library that no training, tuning or selection used (sf_GMbank).

Each evaluation is cached in ``--work``/<weights digest>-<evaluation>.json, keyed by the weights and a digest
of the clips, so a tagger that is no longer shipped keeps its row (marked by its digest) for comparison.

    PYTHONPATH=src python scripts/tagging_clips_results.py [--taggers DIR ...] [--evaluate fluidr3 heldout]

The datasets (about 5 min of two cores to render; ``clips3tv`` is the shipped tagger's third stage's training
data, whose test split holds the same clips as every ``--seed 1`` render of the three libraries):

    spectrolab data clips data/clips3tv --seed 1 --counts 8000 150 150 --train-programs train+valid \
        --workers 2 --soundfont FluidR3_GM.sf2 --soundfont TimGM6mb.sf2 --soundfont OPL-3_FM_128M.sf2
    spectrolab data clips data/clips-fluidr3 --seed 0
    spectrolab data clips data/clips-sfgmbank --soundfont sf_GMbank.sf2 --seed 0 --counts 0 0 120
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
from spectrolab.data.tracks import TrackSet, load_tracks
from spectrolab.paths import SHIPPED_TAGGERS
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.predict import load_tagger

ROOT = Path(__file__).resolve().parent.parent

# name -> (dataset argument, clips spread over the test split; None: all)
EVALUATIONS: dict[str, tuple[str, int | None]] = {
    "fluidr3-48": ("fluidr3", 48),
    "fluidr3": ("fluidr3", None),
    "libraries": ("libraries", None),
    "heldout": ("heldout", None),
}
TITLES = {
    "fluidr3-48": "FluidR3 test, 48 clips",
    "fluidr3": "FluidR3 test, all",
    "libraries": "training libraries' test",
    "heldout": "held-out library (sf_GMbank) test",
}


def weights_digest(model_dir: Path) -> str:
    return hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()


def test_tracks(data: str, count: int | None) -> TrackSet:
    return load_tracks(data, "test").spread(count)


def evaluate(model_dir: Path, name: str, args: argparse.Namespace, *, run: bool) -> dict[str, Any] | None:
    """Evaluation ``name`` of the tagger in ``model_dir``: cached if the weights and clips match, else computed
    (``run``) or ``None``."""
    data_arg, count = EVALUATIONS[name]
    data = getattr(args, data_arg)
    if not (Path(data) / "labels.json").is_file():
        return None
    tracks = test_tracks(data, count)
    digest = weights_digest(model_dir)
    key = {"weights": digest, "data": str(Path(data).resolve()), "clips": tracks_digest(tracks)}
    cache = Path(args.work) / f"{digest[:12]}-{name}.json"
    if cache.is_file() and (cached := json.loads(cache.read_text()))["key"] == key:
        return cached
    if not run:
        return None
    print(f"evaluating {model_dir} on {data} ({len(tracks)} test clips)", flush=True)
    start = time.perf_counter()
    scores = evaluate_tagger(load_tagger(model_dir), tracks)
    meta = json.loads((model_dir / "config.json").read_text())
    result = {"key": key, "clips": len(tracks), "seconds": time.perf_counter() - start,
              "threads": torch.get_num_threads(), "roc_auc": scores.roc_auc, "pr_auc": scores.pr_auc,
              "per_label_roc_auc": scores.per_label_roc_auc, "model": describe(meta)}  # fmt: skip
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=1) + "\n")
    return result


def describe(config: dict[str, Any]) -> str:
    """One line: the architecture, its training data and budget, from the tagger's config."""
    meta = config["metadata"]
    train, recipe = meta["train"], meta.get("data_recipe") or {}
    fonts = recipe.get("soundfont")
    fonts = ", ".join(Path(f).stem for f in ([fonts] if isinstance(fonts, str) else fonts or []))
    counts = recipe.get("counts") or {}
    return (
        f"`{train['model']}` ({meta['parameters'] / 1e6:.2f} M parameters), {counts.get('train', '?')} training "
        f"clips of {fonts or 'unknown libraries'} (seed {recipe.get('seed', '?')}), {meta['steps']} steps of batch "
        f"{train['batch_size']} in {meta['train_seconds'] / 60:.0f} min, {meta.get('precision', train['precision'])}"
        + (f", augmented ({augment})" if (augment := augmentation(train)) else "")
        + (f", started from `{Path(w['from']).name}` ({w['sha256'][:12]})" if (w := meta.get("warm_start")) else "")
    )


def augmentation(train: dict[str, Any]) -> str:
    """The log-mel augmentations a run used, as ``name size`` pairs ('' for none)."""
    return ", ".join(f"{k} {v:g}" for k, v in sorted((train.get("augment") or {}).items()) if v)


def write(args: argparse.Namespace) -> None:
    shipped = weights_digest(SHIPPED_TAGGERS["clips"])[:12]
    for model_dir in args.taggers:
        for name in EVALUATIONS:
            evaluate(Path(model_dir), name, args, run=name in args.evaluate)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(Path(args.work).glob("*.json")):
        digest, name = path.stem.split("-", 1)
        results.setdefault(digest, {})[name] = json.loads(path.read_text())
    lines = [
        "# Clip tagger: song-level tags of held-out clips",
        "",
        "Produced by `scripts/tagging_clips_results.py`. Song-level macro ROC-AUC / PR-AUC over the 17 tags (11 "
        "families, major/minor, slow/medium/fast, drums; mean of sigmoids over non-overlapping chunks) on test "
        "clips whose GM programs no training clip used. Chance: ROC-AUC 0.5.",
        "",
        "| tagger | " + " | ".join(TITLES[n] for n in EVALUATIONS) + " |",
        "|---|" + "---:|" * len(EVALUATIONS),
    ]
    for digest, by_name in sorted(results.items(), key=lambda kv: kv[0] != shipped):
        model = next(iter(by_name.values()))["model"]
        label = f"**shipped** {model}" if digest == shipped else f"`{digest}`: {model}"
        cells = [
            f"{r['roc_auc']:.3f} / {r['pr_auc']:.3f} ({r['clips']})" if (r := by_name.get(n)) else "–"
            for n in EVALUATIONS
        ]  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if shipped in results:
        shown = [n for n in ("fluidr3", "heldout") if n in results[shipped]]
        tags = list(results[shipped][shown[0]]["per_label_roc_auc"]) if shown else []
        lines += ["", "ROC-AUC per tag of the shipped tagger:", ""]
        lines += ["| tag | " + " | ".join(TITLES[n] for n in shown) + " |", "|---|" + "---:|" * len(shown)]
        for tag in tags:
            cells = [format(results[shipped][n]["per_label_roc_auc"].get(tag, float("nan")), ".3f") for n in shown]
            lines.append(f"| {tag} | " + " | ".join(cells) + " |")
    out = Path(args.out)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--taggers", nargs="*", default=[str(SHIPPED_TAGGERS["clips"])], help="tagger model folders")
    p.add_argument(
        "--evaluate", nargs="*", default=list(EVALUATIONS), choices=EVALUATIONS,
        help="evaluations to run if not cached (the table shows every cached one)",
    )  # fmt: skip
    p.add_argument(
        "--fluidr3", default=str(ROOT / "data" / "clips-fluidr3"), help="`data clips --seed 0` of FluidR3_GM"
    )
    p.add_argument("--libraries", default=str(ROOT / "data" / "clips3tv"), help="the training clips (their test split)")
    p.add_argument("--heldout", default=str(ROOT / "data" / "clips-sfgmbank"), help="test clips of a held-out library")
    p.add_argument("--work", default=str(ROOT / "results" / "tagging_clips"), help="cached evaluations")
    p.add_argument("--out", default=str(ROOT / "results" / "tagging_clips.md"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    write(args)


if __name__ == "__main__":
    main()

"""Train and evaluate every registered tagger on the rendered data; write results/tagging.md.

For each architecture, on one CPU thread and within a fixed wall-clock budget per model:

* **clips** (multi-label): ``spectrolab train tagger`` on the rendered multi-instrument clips
  (``spectrolab data clips``), song-level macro ROC-AUC / PR-AUC on test clips (programs never heard in
  training), chunks aggregated by the mean of sigmoids; inference throughput measured on the same pass.
* **notes** (single-label): ``spectrolab train tagger`` on the NSynth-format FluidR3 notes (``spectrolab data
  render``), instrument-family accuracy on test notes of held-out programs. Notes are 4 s: models whose input
  is longer get the note zero-padded, models whose input is shorter see its first chunk at evaluation.

Each model's numbers are cached in WORK/<task>/<model>/result.json (reused only if trained with the same
budget, precision, seed and batch size) so that an interrupted run resumes, and two
processes can run the two tasks side by side (``--task clips`` / ``--task notes``); the table is rewritten
after every model from whatever results exist (``--task none`` only rewrites it).

    nice python scripts/tagging_results.py --task clips & nice python scripts/tagging_results.py --task notes
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from spectrolab.cli.main import main as spectrolab
from spectrolab.data.tracks import TrackSet, load_tracks
from spectrolab.models import list_models
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.predict import load_tagger

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("clips", "notes")


def audio_seconds(tracks: TrackSet) -> float:
    import soundfile as sf

    return sum(sf.info(str(f)).duration for f in tracks.files)


def run_model(name: str, task: str, args: argparse.Namespace) -> dict:
    """Train ``name`` on ``task`` with the command line, evaluate it, return (and cache) its numbers."""
    work = Path(args.work) / task / name.replace("/", "_")
    cached = work / "result.json"
    data = args.clips if task == "clips" else args.notes
    minutes = args.clips_minutes if task == "clips" else args.notes_minutes
    recipe = {"budget_minutes": minutes, "precision": args.precision, "seed": args.seed, "batch_size": args.batch_size}
    if cached.is_file():
        result = json.loads(cached.read_text())
        if all(result.get(k) == v for k, v in recipe.items()):  # else trained with other settings: redo
            return result
    argv = ["train", "tagger", "--model", name, "--data", data, "--out", str(work / "run"), "--seed", str(args.seed)]
    argv += ["--batch-size", str(args.batch_size), "--max-minutes", str(minutes), "--quiet", "--force"]
    argv += ["--val-tracks", str(args.val_tracks), "--precision", args.precision]
    if spectrolab(argv) != 0:
        raise SystemExit(f"training {name} on {task} failed")
    model_dir = work / "run" / "model"
    tagger = load_tagger(model_dir)
    config = json.loads((model_dir / "config.json").read_text())["metadata"]
    tracks = load_tracks(data, "test").spread(args.eval_clips if task == "clips" else args.eval_notes)
    start = time.perf_counter()
    scores = evaluate_tagger(tagger, tracks)
    seconds = time.perf_counter() - start
    result = {
        "model": name,
        "task": task,
        "parameters": config["parameters"],
        "input_seconds": tagger.input_length / tagger.sample_rate,
        "train_seconds": config["train_seconds"],
        "steps": config["steps"],
        **recipe,
        "eval_tracks": len(tracks),
        "eval_seconds": seconds,
        "audio_seconds": audio_seconds(tracks),
        **scores.as_dict(),
    }
    work.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result, indent=2) + "\n")
    return result


def collect(work: Path) -> dict[str, dict[str, dict]]:
    """model -> task -> result, from the cached result files."""
    table: dict[str, dict[str, dict]] = {}
    for path in sorted(work.glob("*/*/result.json")):
        result = json.loads(path.read_text())
        table.setdefault(result["model"], {})[result["task"]] = result
    return table


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def chance_levels(args: argparse.Namespace) -> str:
    """Majority-family accuracy on the evaluated notes and the macro PR-AUC of constant scores on the clips."""
    parts = []
    if Path(args.notes).is_dir():
        notes = load_tracks(args.notes, "test").spread(args.eval_notes)
        parts.append(f"family acc. {float(notes.targets.bincount().max()) / len(notes):.3f} (majority family)")
    if Path(args.clips).is_dir():
        clips = load_tracks(args.clips, "test").spread(args.eval_clips)
        parts.append(f"ROC-AUC 0.5, PR-AUC {float(clips.targets.mean(0).mean()):.3f} (tag frequencies)")
    return "; ".join(parts)


def write_table(work: Path, out: Path, args: argparse.Namespace) -> None:
    rows = collect(work)
    lines = [
        "# Music tagging on rendered data (FluidR3 GM soundfont)",
        "",
        f"Produced by `scripts/tagging_results.py`. Every model trained from scratch (seed {args.seed}, AdamW lr "
        f"1e-3, batch {args.batch_size}, {args.precision} precision) on **one CPU thread** of a 2-core machine "
        "(the clips and the notes runs side by side, one thread each), for a fixed wall-clock budget: "
        f"**{args.clips_minutes} min on clips, {args.notes_minutes} min on notes** (validation included). "
        "Numbers after such short budgets rank how fast architectures learn on a CPU, not their ceiling.",
        "",
        f"* **Family acc.**: instrument-family accuracy (11 NSynth families) on {args.eval_notes} test notes "
        "(evenly spread over the split) of GM programs held out from training; 4 s notes, zero-padded to longer "
        "model inputs.",
        f"* **ROC-AUC / PR-AUC**: song-level macro averages over 17 tags (11 families, major/minor, "
        f"slow/medium/fast, drums) on {args.eval_clips} test clips of 10-30 s with held-out programs; "
        "non-overlapping chunks, mean of sigmoids.",
        "* **Throughput**: seconds of audio tagged per second on the clips evaluation (1 thread, file decoding "
        "included), measured while the other task's run used the other core.",
        f"* **Chance levels**: {chance_levels(args)}.",
        "* **Train**: wall-clock minutes and optimiser steps (clips / notes).",
        "",
        "| model | params (M) | input (s) | family acc. | ROC-AUC | PR-AUC | throughput (x RT) | train min | steps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, tasks in sorted(rows.items()):
        clips, notes = tasks.get("clips", {}), tasks.get("notes", {})
        any_task = clips or notes
        speed = clips["audio_seconds"] / clips["eval_seconds"] if clips else None
        minutes = "/".join(_fmt(t.get("train_seconds", 0) / 60, ".1f") if t else "–" for t in (clips, notes))
        steps = "/".join(str(t["steps"]) if t else "–" for t in (clips, notes))
        lines.append(
            f"| {name} | {any_task['parameters'] / 1e6:.2f} | {any_task['input_seconds']:.2f} | "
            f"{_fmt(notes.get('accuracy'), '.3f')} | {_fmt(clips.get('roc_auc'), '.3f')} | "
            f"{_fmt(clips.get('pr_auc'), '.3f')} | {_fmt(speed, '.1f')} | {minutes} | {steps} |"
        )
    lines += [
        "",
        "The shipped clips tagger (`spectrolab tag`'s default) is trained and scored apart: "
        "results/tagging_clips.md (`scripts/tagging_clips_results.py`).",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=(*TASKS, "both", "none"), default="both", help="'none': only rewrite the table")
    p.add_argument("--models", nargs="*", help="default: every registered tagger")
    p.add_argument("--clips", default="/tmp/tagclips-fluidr3", help="`spectrolab data clips` output")
    p.add_argument("--notes", default="/tmp/nsynth-fluidr3", help="`spectrolab data render` output")
    p.add_argument("--work", default="/tmp/tagging-results", help="run folders and cached results")
    p.add_argument("--out", default=str(ROOT / "results" / "tagging.md"))
    p.add_argument("--clips-minutes", type=float, default=5.0)
    p.add_argument("--notes-minutes", type=float, default=4.0)
    p.add_argument("--eval-clips", type=int, default=48)
    p.add_argument("--eval-notes", type=int, default=150)
    p.add_argument("--val-tracks", type=int, default=40, help="validation tracks during training")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="bf16-mixed", help="Lightning training precision")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    tasks = TASKS if args.task == "both" else () if args.task == "none" else (args.task,)
    for name in args.models or list_models("tagging"):
        for task in tasks:
            result = run_model(name, task, args)
            print(json.dumps(result), flush=True)
            write_table(work, Path(args.out), args)
    write_table(work, Path(args.out), args)


if __name__ == "__main__":
    main()

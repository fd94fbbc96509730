"""The tagging zoo study, which model at what cost: results/tagging_zoo/*.json -> results/tagging_zoo.md and .png.

One protocol for every registered tagger, one committed result file per model and seed, so that the study
grows run by run over sessions; the table and the figure are rebuilt from whatever result files exist.

Protocol (recorded in every result file; a result made under another protocol is redone):

* **Data**: notes3, the NSynth-format merge of FluidR3_GM, TimGM6mb and OPL-3 notes (82,018 training notes,
  every pitch of every GM program, several velocities); the instrument family (11 classes) of single 4 s notes.
  The test split holds GM programs no training note came from. The held-out library (sf_GMbank, test split)
  was never trained, tuned or selected on; it is what the study ranks by.
* **Training**: ``spectrolab train tagger``, seed S, batch 32, AdamW lr 1e-3, bf16-mixed (32-true on a CPU
  without bfloat16 arithmetic, where it is emulated and many times slower; results record the precision and
  the CPU where they were made), class-balanced loss,
  gain/shift/SpecAugment augmentation of the cached log-mels (models trained on waveforms go without: the
  augmentations act on the cache), a fixed wall-clock budget on one CPU thread, validation every
  ``--val-every`` steps on ``--val-tracks`` valid notes, the best validation checkpoint kept. Models that take
  an input length get the note's (64,000 samples at 16 kHz; 88,200 for the 22.05 kHz Music Tagging
  Transformer); mel models train on the memory-mapped log-mel cache of their front end
  (``--feature-cache``, one per distinct front end), models with their own front end on waveforms.
* **Measured**: accuracy on ``--eval-notes`` notes spread over each test split; parameters; training time and
  estimated energy (``EnergyRecorder``: CPU-seconds x 3-10 W/core + RAM); the learning curve (validation
  accuracy against steps, seconds and joules); inference energy per note (estimated from the CPU time of the
  evaluation) and throughput (seconds of audio tagged per second, one thread, decoding included).

    PYTHONPATH=src python scripts/tagging_zoo.py --models short_chunk_cnn musicnn --seeds 0
    PYTHONPATH=src python scripts/tagging_zoo.py --report-only
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from spectrolab.cli.main import main as spectrolab
from spectrolab.data.tracks import load_tracks
from spectrolab.energy.estimate import EstimateMeter
from spectrolab.errors import ModelError
from spectrolab.models import create_model, list_models
from spectrolab.models.precision import cpu_description
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.predict import load_tagger

ROOT = Path(__file__).resolve().parent.parent
NOTE_SAMPLES = 64000
PROTOCOL_VERSION = 1


def protocol(args: argparse.Namespace) -> dict:
    """Everything a result depends on besides the model and the seed."""
    return {
        "version": PROTOCOL_VERSION,
        "data": Path(args.data).name,
        "library": Path(args.library).name,
        "minutes": args.minutes,
        "batch_size": 32,
        "lr": 1e-3,
        "precision": "bf16-mixed",
        "augment": {"gain_db": 6, "shift": 10, "freq_mask": 16, "time_mask": 24},
        "balance": True,
        "val_tracks": args.val_tracks,
        "val_every": args.val_every,
        "eval_notes": args.eval_notes,
        "input_samples": NOTE_SAMPLES,
    }


def note_samples(model: torch.nn.Module) -> int:
    """A 4 s note's length in samples at ``model``'s rate: 64,000 at 16 kHz, 88,200 for the Music Tagging
    Transformer's 22.05 kHz (the note resampled), so that every model sees the whole note as one chunk."""
    return round(NOTE_SAMPLES / 16000 * int(getattr(model, "sample_rate", 16000)))


def note_model(name: str) -> tuple[torch.nn.Module, list[str]]:
    """``name`` built for 4 s notes, and the ``--model-arg`` that does it: ``input_length`` of a note at the
    model's rate (:func:`note_samples`) where the builder takes it and its poolings fit in it (fcn and SampleCNN
    have fixed inputs; the Harmonic CNN's poolings need 4.6 s, so it keeps its 5 s input and the note is
    zero-padded to it)."""
    default = create_model(name, num_classes=11)
    length = note_samples(default)
    try:
        model = create_model(name, num_classes=11, input_length=length)
    except ModelError:
        return default, []
    if getattr(model, "min_input_length", 1) > length:
        return default, []
    return model, ["--model-arg", f"input_length={length}"]


def cache_dir(model: torch.nn.Module, args: argparse.Namespace) -> Path | None:
    """The feature cache of ``model``'s front end (one folder per distinct log-mel config); None for waveform
    models, and for mel models whose fixed input is longer than a note (FCN's 29 s: its cache would be 7 parts
    padding in 8, 28 GB)."""
    if not isinstance(model, MelTaggingModel) or model.input_length > note_samples(model):
        return None
    c = model.frontend.logmel.config
    tag = f"mel{c.n_mels}-fft{c.n_fft}-hop{c.hop_length}-fmax{c.f_max:g}-{model.input_length}"
    return Path(args.caches) / tag


def learning_curve(run: Path) -> list[dict]:
    """Validation accuracy at each validation, with the steps, seconds and estimated joules spent by then."""
    with open(run / "logs" / "metrics.csv") as fh:
        accuracy = {int(r["step"]): float(r["val/accuracy"]) for r in csv.DictReader(fh) if r.get("val/accuracy")}
    with open(run / "energy.csv") as fh:  # counts steps done (the metrics log the 0-based step index)
        spent = {int(r["step"]) - 1: r for r in csv.DictReader(fh) if r["event"] == "validation"}
    return [
        {
            "step": step + 1,
            "seconds": float(spent[step]["total_seconds"]),
            "joules": [float(spent[step]["total_joules_low"]), float(spent[step]["total_joules_high"])],
            "accuracy": value,
        }
        for step, value in sorted(accuracy.items())
        if step in spent
    ]


def evaluate(model_dir: Path, data: str, count: int) -> dict:
    """Accuracy on ``count`` test notes of ``data``, with the estimated energy and the throughput."""
    tagger = load_tagger(model_dir)
    tracks = load_tracks(data, "test").spread(count)
    started = time.perf_counter()
    with EstimateMeter() as meter:
        scores = evaluate_tagger(tagger, tracks)
    seconds = time.perf_counter() - started
    assert meter.result is not None and scores.accuracy is not None
    joules = (meter.result.joules_low, meter.result.joules_high)
    return {
        "accuracy": scores.accuracy,
        "roc_auc": scores.roc_auc,
        "pr_auc": scores.pr_auc,
        "notes": len(tracks),
        "confusion": scores.confusion,
        "joules_per_note": [joules[0] / len(tracks), joules[1] / len(tracks)],
        "throughput": len(tracks) * NOTE_SAMPLES / 16000 / seconds,
    }


def run_one(name: str, seed: int, args: argparse.Namespace) -> dict:
    """Train and evaluate ``name`` with ``seed`` under the protocol; the result file is written last."""
    path = Path(args.results) / name.replace("/", "_") / f"seed{seed}.json"
    if path.is_file() and json.loads(path.read_text()).get("protocol") == protocol(args):
        return json.loads(path.read_text())
    run = Path(args.work) / name.replace("/", "_") / f"seed{seed}"
    argv = ["train", "tagger", "--model", name, "--data", args.data, "--out", str(run), "--seed", str(seed)]
    argv += ["--batch-size", "32", "--lr", "1e-3", "--precision", "auto", "--balance", "--quiet", "--force"]
    argv += ["--max-minutes", str(args.minutes), "--val-tracks", str(args.val_tracks)]
    argv += ["--val-every-steps", str(args.val_every)]
    argv += ["--patience", "1000"]
    model, extra = note_model(name)
    argv += extra
    cache = cache_dir(model, args)
    if cache is not None:  # the augmentations act on cached log-mels
        argv += ["--feature-cache", str(cache), "--aug-gain-db", "6", "--aug-shift", "10"]
        argv += ["--aug-freq-mask", "16", "--aug-time-mask", "24"]
    else:
        argv += ["--num-workers", "1"]
    if spectrolab(argv) != 0:
        raise SystemExit(f"training {name} (seed {seed}) failed")
    model_dir = run / "model"
    config = json.loads((model_dir / "config.json").read_text())["metadata"]
    energy = json.loads((run / "energy.json").read_text())["total"]
    result = {
        "model": name,
        "seed": seed,
        "protocol": protocol(args),
        "parameters": config["parameters"],
        "feature_cache": cache is not None,
        "augmented": cache is not None,
        "input_length": int(getattr(model, "input_length", 0)),
        "train_seconds": config["train_seconds"],
        "steps": config["steps"],
        "precision": config["precision"],
        "cpu": cpu_description(),
        "best_valid": config["best_score"]["val/accuracy"],
        "training_joules": [energy["joules_low"], energy["joules_high"]],
        "energy_method": energy["method"],
        "curve": learning_curve(run),
        "test": evaluate(model_dir, args.data, args.eval_notes),
        "library": evaluate(model_dir, args.library, args.eval_notes),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def rescore(args: argparse.Namespace) -> None:
    """Evaluate again the exported model of every result file made before the evaluation recorded ROC-AUC and
    PR-AUC (the training and its record stay as they are)."""
    for path in sorted(Path(args.results).glob("*/seed*.json")):
        result = json.loads(path.read_text())
        if "roc_auc" in result["library"]:
            continue
        model_dir = Path(args.work) / path.parent.name / path.stem / "model"
        result["test"] = evaluate(model_dir, args.data, result["test"]["notes"])
        result["library"] = evaluate(model_dir, args.library, result["library"]["notes"])
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"rescored {path}", flush=True)


def collect(results: Path) -> dict[str, list[dict]]:
    """Every result file, grouped by model."""
    by_model: dict[str, list[dict]] = {}
    for path in sorted(results.glob("*/seed*.json")):
        result = json.loads(path.read_text())
        by_model.setdefault(result["model"], []).append(result)
    return by_model


# The designs the field's debate sets against each other (Won et al. 2020), for the table and the figure.
DESIGNS = {
    "fcn": "spectrogram VGG",
    "short_chunk_cnn": "spectrogram VGG",
    "short_chunk_resnet": "spectrogram VGG",
    "crnn": "CNN + sequence model",
    "musicnn": "domain-informed",
    "harmonic_cnn": "domain-informed",
    "sample_cnn": "raw waveform",
    "sample_cnn_se": "raw waveform",
    "cnnsa": "CNN + sequence model",
    "music_tagging_transformer": "CNN + sequence model",
}
MARKERS = {"spectrogram VGG": "o", "domain-informed": "s", "raw waveform": "v", "CNN + sequence model": "D",
           "vision backbone": "^"}  # fmt: skip


def design(name: str) -> str:
    """The design family of a registered tagger: timm models are adapted vision backbones."""
    return "vision backbone" if name.startswith("timm/") else DESIGNS.get(name, "other")


def _spread(values: list[float], spec: str) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return format(mean, spec)
    return f"{format(mean, spec)} ± {format(statistics.stdev(values), spec)}"


def report(results: Path, out: Path, figure: Path) -> None:
    """results/tagging_zoo.md (models by held-out accuracy) and the figure, from every result file."""
    by_model = collect(results)
    shown = figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure
    rows = sorted(by_model.items(), key=lambda kv: -statistics.fmean(r["library"]["accuracy"] for r in kv[1]))
    lines = [
        "The tagging zoo under one protocol (`scripts/tagging_zoo.py`; its docstring states it): instrument family "
        "of single 4 s notes, trained on notes3 for a fixed wall-clock budget on one CPU thread. Accuracy on "
        "notes of the held-out library (sf_GMbank, never trained, tuned or selected on) and on notes of GM "
        "programs unseen in training (notes3 test); mean ± standard deviation over seeds. Energy figures are "
        "estimates (CPU-seconds x 3-10 W/core + RAM 0.5-3 W x wall; this machine has no energy counters).",
        "",
        f"![learning curves and score against training energy]({shown})",
        "",
        "ROC-AUC and PR-AUC: macro one-vs-rest over the 11 families, of the held-out library's notes (– where a "
        "run was scored before they were recorded).",
        "",
        "| model | design | seeds | params (M) | held-out library acc. | held-out ROC-AUC | held-out PR-AUC "
        "| unseen programs acc. | best valid acc. | steps | train min | train kJ (est.) | mJ per note (est.) "
        "| throughput (x RT) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, results in rows:
        kilojoules = [statistics.fmean(r["training_joules"]) / 1e3 for r in results]
        millijoules = [1e3 * statistics.fmean(r["library"]["joules_per_note"]) for r in results]
        lines.append(
            f"| {name} | {design(name)} | {len(results)} | {results[0]['parameters'] / 1e6:.2f} "
            f"| {_spread([r['library']['accuracy'] for r in results], '.3f')} "
            f"| {_spread([r['library']['roc_auc'] for r in results if 'roc_auc' in r['library']], '.3f')} "
            f"| {_spread([r['library']['pr_auc'] for r in results if 'pr_auc' in r['library']], '.3f')} "
            f"| {_spread([r['test']['accuracy'] for r in results], '.3f')} "
            f"| {_spread([r['best_valid'] for r in results], '.3f')} "
            f"| {statistics.fmean(r['steps'] for r in results):.0f} "
            f"| {statistics.fmean(r['train_seconds'] for r in results) / 60:.1f} "
            f"| {_spread(kilojoules, '.1f')} | {_spread(millijoules, '.1f')} "
            f"| {statistics.fmean(r['library']['throughput'] for r in results):.0f} |"
        )
    missing = [m for m in list_models(task="tagging") if m not in by_model and not m.startswith("test/")]
    if missing:
        lines += ["", f"Not yet run under this protocol: {', '.join(missing)}."]
    out.write_text("\n".join(lines) + "\n")
    plot(rows, figure)


def plot(rows: list[tuple[str, list[dict]]], figure: Path) -> None:
    """Validation accuracy against steps and against estimated training energy (one line per seed), and held-out
    accuracy against training energy and against inference energy per note (one point per model: the mean over
    its seeds, whose number is in brackets, with their standard deviation)."""
    fig, axes = plt.subplots(1, 4, figsize=(21, 5.2))
    palette = plt.get_cmap("tab20")
    for index, (name, results) in enumerate(rows):
        colour, marker = palette(index % 20), MARKERS.get(design(name), "o")
        for k, r in enumerate(results):
            steps = [p["step"] for p in r["curve"]]
            accuracy = [p["accuracy"] for p in r["curve"]]
            kilojoules = [statistics.fmean(p["joules"]) / 1e3 for p in r["curve"]]
            label = name if k == 0 else None
            axes[0].plot(steps, accuracy, "-", marker=marker, ms=3, color=colour, alpha=0.8, label=label)
            axes[1].plot(kilojoules, accuracy, "-", marker=marker, ms=3, color=colour, alpha=0.8)
        low = statistics.fmean(r["training_joules"][0] for r in results) / 1e3
        high = statistics.fmean(r["training_joules"][1] for r in results) / 1e3
        scores = [r["library"]["accuracy"] for r in results]
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        centre, score = (low + high) / 2, statistics.fmean(scores)
        axes[2].errorbar(centre, score, xerr=[[(high - low) / 2]] * 2, yerr=spread, fmt=marker, color=colour,
                         capsize=3, elinewidth=0.8)  # fmt: skip
        axes[2].annotate(f"{name} ({len(scores)})", (centre, score), fontsize=6.5, xytext=(4, 3),
                         textcoords="offset points")  # fmt: skip
        per_note = statistics.fmean(1e3 * statistics.fmean(r["library"]["joules_per_note"]) for r in results)
        axes[3].errorbar(per_note, score, yerr=spread, fmt=marker, color=colour, capsize=3, elinewidth=0.8)
        axes[3].annotate(name, (per_note, score), fontsize=6.5, xytext=(4, 3), textcoords="offset points")
    for family, marker in MARKERS.items():
        axes[2].plot([], [], marker, color="grey", label=family)
    axes[0].set(xlabel="optimiser steps", ylabel="validation accuracy", title="learning curves")
    axes[1].set(xlabel="training energy, kJ (estimated, mid-range)", ylabel="validation accuracy",
                title="accuracy against training energy")  # fmt: skip
    axes[2].set(xlabel="training energy, kJ (estimated: bars span 3-10 W/core)", ylabel="held-out library accuracy",
                title="held-out score against training energy")  # fmt: skip
    axes[3].set(xscale="log", xlabel="inference energy per note, mJ (estimated, one thread)",
                ylabel="held-out library accuracy", title="held-out score against inference cost")  # fmt: skip
    axes[0].legend(fontsize=6, ncol=2)
    axes[2].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", help="default: every registered tagger")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--data", default="data/notes3", help="NSynth-format training data")
    p.add_argument("--library", default="data/nsynth-sf_GMbank", help="held-out sample library (NSynth format)")
    p.add_argument("--minutes", type=float, default=15.0, help="wall-clock training budget per run")
    p.add_argument("--val-every", type=int, default=100, help="validate every this many steps")
    p.add_argument("--val-tracks", type=int, default=700, help="validation notes, spread over the valid split")
    p.add_argument("--eval-notes", type=int, default=1000, help="test notes per split, spread over it")
    p.add_argument("--work", default="runs/tagging_zoo", help="run folders (checkpoints, logs)")
    p.add_argument("--caches", default="runs/tagging_zoo/caches", help="feature caches, one folder per front end")
    p.add_argument("--results", default=str(ROOT / "results" / "tagging_zoo"), help="one JSON per model and seed")
    p.add_argument("--report-only", action="store_true", help="only rebuild the table and the figure")
    p.add_argument("--rescore", action="store_true", help="add ROC-AUC and PR-AUC to results made without them")
    p.add_argument("--out", default=str(ROOT / "results" / "tagging_zoo.md"))
    p.add_argument("--figure", default=str(ROOT / "docs" / "tagging_zoo.png"))
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.rescore:
        rescore(args)
    elif not args.report_only:
        models = args.models or [m for m in list_models(task="tagging") if not m.startswith("test/")]
        for name in models:
            for seed in args.seeds:
                result = run_one(name, seed, args)
                print(f"{name} seed {seed}: held-out {result['library']['accuracy']:.3f}, "
                      f"unseen programs {result['test']['accuracy']:.3f}", flush=True)  # fmt: skip
                report(Path(args.results), Path(args.out), Path(args.figure))
    report(Path(args.results), Path(args.out), Path(args.figure))
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()

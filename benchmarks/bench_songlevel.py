"""Song-level tagging throughput of the Short-chunk CNN on 30 s tracks: ours against the literature's evaluation.

Reference (Won et al. 2020's evaluation): per track, 16 evenly spaced, overlapping 59049-sample chunks in one
batch, under ``torch.no_grad``, song score = mean of the chunk sigmoids.

Ours (``spectrolab.tag.inference.song_scores``): the 8 non-overlapping chunks that tile each track, the
chunks of several tracks in one batch, ``torch.inference_mode``, mean of sigmoids -- then the same with
inference-mode tricks applied to the model: channels-last memory format, TorchScript freezing with
``optimize_for_inference`` (BatchNorm folded into the convolutions), ``torch.compile``, and dynamic int8
quantisation of the linear layers. Song-level scores are computed on ``--tracks`` tracks by every method:
max abs difference to the reference and to plain ours, and, when the tracks have tags, macro ROC-AUC / PR-AUC
next to the reference's. Speed is the median of ``--repeats`` timed passes over ``--time-tracks`` of them.

    python benchmarks/bench_songlevel.py [--model DIR] [--data CLIPS_DIR] [--tracks 32] [--compile]

Without ``--data``, 30 s clips are rendered with the small test soundfont; without ``--model``, a freshly
initialised Short-chunk CNN is used (the speed and the score differences do not depend on training).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from spectrolab.audio import io
from spectrolab.data.chunking import evenly_spaced_chunks
from spectrolab.data.clips import LABELS, ClipRecipe, render_clips
from spectrolab.data.soundfont import TEST_SOUNDFONT
from spectrolab.data.tracks import load_tracks
from spectrolab.models import create_model
from spectrolab.tag.inference import song_scores
from spectrolab.tag.metrics import multilabel_scores
from spectrolab.tag.predict import load_tagger

SAMPLE_RATE = 16000
TRACK_SECONDS = 30
REFERENCE_CHUNKS = 16


def reference_scores(model: nn.Module, waves: list[torch.Tensor], length: int) -> torch.Tensor:
    """The literature's song-level evaluation: 16 evenly spaced chunks per track in one batch."""
    out = []
    with torch.no_grad():
        for wave in waves:
            out.append(torch.sigmoid(model(evenly_spaced_chunks(wave, length, REFERENCE_CHUNKS))).mean(0))
    return torch.stack(out)


def ours_scores(model: nn.Module, waves: list[torch.Tensor], length: int, tracks_per_batch: int) -> torch.Tensor:
    """Non-overlapping chunks, ``tracks_per_batch`` tracks per batch, inference mode."""
    per_batch = tracks_per_batch * (waves[0].shape[0] // length)
    return song_scores(model, waves, length=length, batch_size=per_batch)


def variants(model: nn.Module, length: int, batch: int, *, compile_model: bool) -> dict[str, nn.Module]:
    """The model prepared each way ours is measured."""
    out: dict[str, nn.Module] = {"ours": model}
    out["ours + channels-last"] = copy.deepcopy(model).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    with torch.no_grad():
        traced = torch.jit.trace(copy.deepcopy(model), torch.zeros(batch, length))
    out["ours + frozen TorchScript"] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    if compile_model:
        out["ours + torch.compile"] = torch.compile(copy.deepcopy(model))  # type: ignore[assignment]
    out["ours + int8 linear"] = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, torch.qint8)
    return out


def timed(fn: Callable[[], torch.Tensor], repeats: int) -> tuple[float, torch.Tensor]:
    """Median seconds of ``repeats`` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def load_data(args: argparse.Namespace) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """30 s waveforms and, where known, their tags (N, C)."""
    root = args.data
    if root is None:
        root = tempfile.mkdtemp(prefix="bench-songlevel-")
        counts = {"train": 0, "valid": 0, "test": args.tracks}
        recipe = ClipRecipe(soundfont=TEST_SOUNDFONT, counts=counts, min_duration=TRACK_SECONDS, max_duration=30.0)
        render_clips(root, recipe)
    tracks = load_tracks(root, "test").spread(args.tracks)
    length = TRACK_SECONDS * SAMPLE_RATE
    waves = [torch.nn.functional.pad(w, (0, max(0, length - w.shape[0])))[:length] for w in _load(tracks.files)]
    return waves, tracks.targets


def _load(files: list[Path]) -> list[torch.Tensor]:
    return [io.load(f, sample_rate=SAMPLE_RATE)[0] for f in files]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="trained short_chunk_cnn model directory (default: fresh initialisation)")
    p.add_argument("--data", help="clip dataset whose test split supplies the tracks (cut/padded to 30 s)")
    p.add_argument("--tracks", type=int, default=32, help="tracks whose song-level scores are compared")
    p.add_argument("--time-tracks", type=int, default=8, help="tracks of each timed pass")
    p.add_argument("--tracks-per-batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to compile)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    waves, targets = load_data(args)
    model = load_tagger(args.model).model if args.model else create_model("short_chunk_cnn", num_classes=len(LABELS))
    model.eval()
    length = model.input_length
    timed_waves = waves[: args.time_tracks]
    audio = len(timed_waves) * TRACK_SECONDS
    print(f"scores on {len(waves)} tracks, speed on {len(timed_waves)}; {args.threads} threads; {type(model).__name__}")
    ref = reference_scores(model, waves, length)
    ref_time, _ = timed(lambda: reference_scores(model, timed_waves, length), args.repeats)
    header = f"{'method':28s} {'x real time':>11s} {'vs ref':>7s} {'max|d| ref':>10s} {'max|d| ours':>11s}"
    print(header + f" {'ROC-AUC':>8s} {'PR-AUC':>8s}")

    def row(name: str, seconds: float, scores: torch.Tensor, plain: torch.Tensor) -> None:
        m = multilabel_scores(scores, targets) if targets is not None else None
        auc = f" {m.roc_auc:8.4f} {m.pr_auc:8.4f}" if m else ""
        d_ref, d_plain = float((scores - ref).abs().max()), float((scores - plain).abs().max())
        print(f"{name:28s} {audio / seconds:11.1f} {ref_time / seconds:6.2f}x {d_ref:10.2e} {d_plain:11.2e}{auc}")

    row("reference (16 overlapping)", ref_time, ref, ref)
    batch = args.tracks_per_batch * (TRACK_SECONDS * SAMPLE_RATE // length)
    plain = None
    for name, prepared in variants(model, length, batch, compile_model=args.compile).items():
        scores = ours_scores(prepared, waves, length, args.tracks_per_batch)
        seconds, _ = timed(lambda m=prepared: ours_scores(m, timed_waves, length, args.tracks_per_batch), args.repeats)
        plain = scores if plain is None else plain
        row(name, seconds, scores, plain)


if __name__ == "__main__":
    main()

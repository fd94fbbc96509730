"""Latency of one edit, file in to file out, against the codec's plain round trip measured in the same run.

An edit reads the file, resamples the region's window to 16 kHz mono, analyses and encodes the window,
resamples the region's cells (Naive Bayes: Gibbs sweeps; Transformer: iterative unmasking), decodes the
columns around the region, inverts, brings the edit to the file's rate, pastes it into every channel and
writes the file (``spectrolab.edit.edit_file``). The peer loads the 4 s note, encodes, decodes and writes it
whole. A third case edits the same 1 s x 200-4000 Hz region in a 60 s, 44.1 kHz stereo 16-bit file made from
the note, which should cost about what the 4 s note costs: the work follows the region, not the file.
Models are loaded once, before timing; medians over ``--runs``; the time per stage is the median of each.

Every run writes a new output file, as ``spectrolab blur in.wav -o out.wav`` does (the previous run's output
is removed between runs, untimed). One more case writes the 60 s edit over an existing file instead (``--force``):
on ext4, renaming a new file over an old one first writes the new file's data to disk (``auto_da_alloc``), a
cost that follows the file's size, not the edit.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from spectrolab.audio import io
from spectrolab.cli.demo import EXAMPLE_NOTE
from spectrolab.codec import Codec, load_codec
from spectrolab.edit.blur import BlurOptions
from spectrolab.edit.editor import EditResult, edit_file
from spectrolab.edit.region import Region
from spectrolab.models.precision import cpu_description
from spectrolab.priors.api import load_prior
from spectrolab.sampling import DEFAULT_STEPS

NOTE_REGION = Region(start_s=0.5, stop_s=1.5, low_hz=200.0, high_hz=4000.0)
LONG_REGION = Region(start_s=30.5, stop_s=31.5, low_hz=200.0, high_hz=4000.0)
LABELS = ("4 s note", "60 s 44.1k stereo")
OVERWRITE = "over an existing file"


@dataclass(frozen=True)
class Case:
    """One timed call, and what to undo after it, untimed (``None``: nothing)."""

    run: Callable[[], object]
    after: Callable[[], None] | None = None


def interleaved_ms(cases: dict[str, Case], runs: int) -> dict[str, tuple[float, list[object]]]:
    """Median wall time in milliseconds of each case, and what each run returned, the cases taking turns
    (one warm-up call each first): this machine's speed drifts over minutes, and turns give every case the
    same drift, so that their ratios hold."""
    for case in cases.values():
        case.run()
        if case.after:
            case.after()
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, list[object]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            started = time.perf_counter()
            outputs[name].append(case.run())
            times[name].append(time.perf_counter() - started)
            if case.after:
                case.after()
    return {name: (1000 * statistics.median(times[name]), outputs[name]) for name in cases}


def round_trip_file(note: Path, out: Path, codec: Codec) -> None:
    wave = io.load(note, sample_rate=codec.sample_rate)
    with torch.inference_mode():
        decoded = codec.decode(codec.encode(wave))
    io.save(out, decoded[0], sample_rate=codec.sample_rate, force=True)


def long_stereo_file(note: Path, path: Path, *, seconds: float = 60.0, sample_rate: int = 44100) -> Path:
    """The note at 44.1 kHz repeated to ``seconds``, panned and with quiet noise on the left, as PCM_16."""
    wave = soxr.resample(io.load(note)[0].double().numpy(), 16000, sample_rate)
    wave = np.resize(wave, int(seconds * sample_rate))
    noise = np.random.default_rng(0).standard_normal(wave.shape)
    stereo = np.stack([0.8 * wave + 0.01 * noise, 0.5 * wave], axis=1)
    sf.write(path, 0.9 * stereo / np.abs(stereo).max(), sample_rate, subtype="PCM_16")
    return path


def first_touch_ms_per_mb(megabytes: int = 256) -> tuple[float, float]:
    """Milliseconds per MB to allocate and fill ``megabytes`` of memory, then the same again at once. On a virtual
    machine that hands freed memory back to its host, the first can be many times the second; the 60 s file's
    reading and writing (10.6 MB of new memory each) pay it."""
    costs = []
    for _ in range(2):
        started = time.perf_counter()
        block = np.ones(megabytes * 2**20 // 8)
        costs.append(1000 * (time.perf_counter() - started) / megabytes)
        del block
    return costs[0], costs[1]


def stage_medians(results: list[object]) -> dict[str, float]:
    """Median milliseconds per stage over the runs' :class:`EditResult` timings."""
    edits = [r for r in results if isinstance(r, EditResult)]
    return {stage: 1000 * statistics.median(e.seconds.get(stage, 0.0) for e in edits) for stage in edits[0].seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="sampling steps (default: the library's)")
    parser.add_argument("--codec", help="codec directory (default: shipped)")
    parser.add_argument("--nb", default="nb", help="Naive Bayes prior (default: shipped)")
    parser.add_argument("--transformer", default="transformer", help="Transformer prior (default: shipped)")
    parser.add_argument("--out", type=Path, default=Path("results/edit_latency.md"), help="markdown tables")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codec = load_codec(args.codec)
    priors = {"naive bayes": load_prior(args.nb), "transformer": load_prior(args.transformer)}
    options = BlurOptions(steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        out, kept = Path(tmp) / "out.wav", Path(tmp) / "kept.wav"
        long_file = long_stereo_file(EXAMPLE_NOTE, Path(tmp) / "long.wav")
        fresh = partial(out.unlink, missing_ok=True)
        peer_name = "codec round trip, 4 s note (peer)"
        cases = {peer_name: Case(partial(round_trip_file, EXAMPLE_NOTE, out, codec), fresh)}
        for name, prior in priors.items():
            for label, src, region in (
                ("4 s note", EXAMPLE_NOTE, NOTE_REGION),
                ("60 s 44.1k stereo", long_file, LONG_REGION),
            ):
                edit = partial(edit_file, src, codec=codec, prior=prior, region=region, options=options, force=True)
                cases[f"{name} edit, {label}"] = Case(partial(edit, out), fresh)
                if label != LABELS[0] and name == next(iter(priors)):
                    cases[f"{name} edit, {label}, {OVERWRITE}"] = Case(partial(edit, kept))
        memory = first_touch_ms_per_mb()
        measured = interleaved_ms(cases, args.runs)
        rows = [
            (case, ms, None if case == peer_name else stage_medians(results))
            for case, (ms, results) in measured.items()
        ]
    text = markdown(rows, runs=args.runs, threads=args.threads, steps=args.steps, priors=list(priors), memory=memory)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


def markdown(
    rows: list[tuple[str, float, dict[str, float] | None]],
    *,
    runs: int,
    threads: int,
    steps: int,
    priors: list[str],
    memory: tuple[float, float],
) -> str:
    """The tables of ``results/edit_latency.md``: ms per edit against the round trip, then ms per stage."""
    peer = rows[0][1]
    lines = [
        f"From `python benchmarks/bench_edit_latency.py` ({threads} thread(s), {steps} steps, median of {runs} runs, "
        f"the cases taking turns; {cpu_description()}; on the shared 2-core machine, so upper bounds), ms per edit "
        "of a 1 s x 200-4000 Hz region, file to file, each run writing a new file (one row writes over an existing "
        "one):",
        "",
        "| edit | ms | x the codec round trip |",
        "|---|---:|---:|",
        *(f"| {name} | {ms:.1f} | {ms / peer:.2f} |" for name, ms, _ in rows),
        "",
    ]
    for name in priors:
        short, long = (next(ms for row, ms, _ in rows if row == f"{name} edit, {label}") for label in LABELS)
        stages = [next(s for row, _, s in rows if row == f"{name} edit, {label}") for label in LABELS]
        inner = [sum(v for k, v in (s or {}).items() if k not in ("load", "save")) for s in stages]
        lines.append(
            f"- {name}: the 60 s 44.1 kHz stereo file costs {long / short:.2f}x the 4 s note "
            f"({inner[1] / inner[0]:.2f}x without reading and writing the file)."
        )
    over = [(name, ms) for name, ms, _ in rows if name.endswith(OVERWRITE)]
    for name, ms in over:
        base = next(m for row, m, _ in rows if row == name.removesuffix(f", {OVERWRITE}"))
        lines.append(
            f"- Writing the 60 s edit over an existing file adds {ms - base:.1f} ms: ext4 writes the new file's "
            "data to disk before renaming it over the old one."
        )
    lines.append(
        f"- New memory cost {memory[0]:.2f} ms per MB to touch first in this run, {memory[1]:.2f} ms per MB touched "
        "again at once (256 MB): on a virtual machine that returns freed memory to its host, the 60 s file's "
        "reading and writing, 10.6 MB of new memory each, pay the first rate."
    )
    stages = next(s for *_, s in rows if s is not None)
    lines += [
        "",
        "Where the time goes (median ms; `EditResult.seconds` holds the same stages):",
        "",
        "| edit | " + " | ".join(stages) + " |",
        "|---|" + "---:|" * len(stages),
        *(
            f"| {name} | " + " | ".join(f"{per_stage.get(stage, 0.0):.2f}" for stage in stages) + " |"
            for name, _, per_stage in rows
            if per_stage is not None
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""What fewer sampling steps cost in quality, and what they save in time -> results/sampling_steps.md.

An edit's sampling is ``steps`` Gibbs sweeps (Naive Bayes) or MaskGIT unmasking steps (Transformer). For each
prior and each ``--steps`` value, at the default temperature and guidance:

1. Time: the median ``sample`` stage of ``--runs`` edits of the benchmark's region (1 s x 200-4000 Hz of the
   example note; ``benchmarks/bench_edit_latency.py``), one thread.
2. Seamlessness: the unconditioned edits of ``scripts/prior_steering.py`` (1-2 s x 0-2000 Hz of notes of
   unseen programs): f0 kept, level within 3 dB, edge flux against the round trip.
3. Steering: whole notes regenerated with ``--pitch P`` (P = note -12, +5, +12), the pitch hit rate.

    PYTHONPATH=src python scripts/sampling_steps.py --data data/notes3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from spectrolab.cli.demo import EXAMPLE_NOTE
from spectrolab.codec import load_codec
from spectrolab.data.nsynth import NSynthDataset
from spectrolab.edit.blur import BlurOptions
from spectrolab.edit.editor import edit_file
from spectrolab.edit.region import Region
from spectrolab.priors import Prior
from spectrolab.priors.api import load_prior
from spectrolab.sampling import DEFAULT_GUIDANCE

TEMPERATURE = 0.7  # the study's, for both priors (results/sampling_steps.md)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from prior_steering import Setting, conditioning_rows, seamless_rows, spread_notes  # noqa: E402

BENCH_REGION = Region(start_s=0.5, stop_s=1.5, low_hz=200.0, high_hz=4000.0)


def sample_ms(prior: Prior, steps: int, *, codec, runs: int, out: Path) -> float:
    """Median milliseconds of the ``sample`` stage of the benchmark's edit, after one warm-up edit."""
    options = BlurOptions(steps=steps)
    times = []
    for _ in range(runs + 1):
        result = edit_file(EXAMPLE_NOTE, out, codec=codec, prior=prior, region=BENCH_REGION, options=options,
                           force=True)  # fmt: skip
        times.append(result.seconds["sample"])
    return 1000 * statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/notes3", help="NSynth-format dataset the priors were trained on")
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--notes", type=int, default=20, help="notes regenerated towards each target pitch")
    parser.add_argument("--seamless-notes", type=int, default=30, help="notes edited for the seamlessness table")
    parser.add_argument("--runs", type=int, default=20, help="timed edits per setting")
    parser.add_argument("--out", default="results/sampling_steps.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec = load_codec(None)
    priors: dict[str, Prior] = {"nb": load_prior("nb"), "transformer": load_prior("transformer")}
    dataset = NSynthDataset(args.data, "test", fields=("pitch", "instrument_family"))
    timing, seamless, steering = [], [], []
    out = ROOT / args.out
    for steps in args.steps:
        label = f"{steps} steps"
        for name, prior in priors.items():
            ms = sample_ms(prior, steps, codec=codec, runs=args.runs, out=out.with_suffix(".wav"))
            timing.append(f"| {label} | {name} | {ms:.1f} |")
            print(timing[-1], flush=True)
        plain = [Setting(p, TEMPERATURE, steps=steps) for p in priors]
        seamless += seamless_rows(
            dataset, spread_notes(dataset, args.seamless_notes, pitches=range(36, 85)), codec=codec, priors=priors,
            settings=plain, label=label,
        )  # fmt: skip
        steer = [Setting(p, TEMPERATURE, DEFAULT_GUIDANCE, steps=steps) for p in priors]
        steering += conditioning_rows(
            dataset, spread_notes(dataset, args.notes, pitches=range(48, 73)), codec=codec, priors=priors,
            settings=steer, family_of=None, label=label,
        )  # fmt: skip
    out.with_suffix(".wav").unlink(missing_ok=True)
    lines = [
        f"Sampling steps at temperature {TEMPERATURE:g} (guidance {DEFAULT_GUIDANCE:g} where a label is "
        "given), notes of unseen programs. The tables are those of `scripts/prior_steering.py` "
        "(results/prior_steering.md says how each is measured); the first column gives the steps.",
        "",
        "Median ms of the `sample` stage of one edit (1 s x 200-4000 Hz of the example note, one thread):",
        "",
        "| steps | prior | sample (ms) |",
        "|---|---|---:|",
        *timing,
        "",
        "Seamlessness of unconditioned edits:",
        "",
        "| steps | prior | temperature | f0 kept | level within 3 dB | median level change (dB) "
        "| median edge flux / round trip | edges within 1.5x |",
        "|---|---|---|---|---|---|---|---|",
        *seamless,
        "",
        "Steering with `--pitch`:",
        "",
        "| steps | prior | temperature | guidance | pitch hits | pitched trials | median error (semitones) "
        "| --family hits |",
        "|---|---|---|---|---|---|---|---|",
        *steering,
        "",
        f"Produced by `PYTHONPATH=src python scripts/sampling_steps.py {' '.join(sys.argv[1:])}` (1 thread).",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

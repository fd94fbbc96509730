"""How the priors' edits steer and how seamless they are -> results/prior_steering.md.

1. Conditioning. Each of ``--notes`` notes of unseen programs (the test split, MIDI 48-72, spread over it) is
   regenerated whole (all cells, as ``spectrolab blur --pitch P`` without --time/--freq does) towards three
   target pitches ``P`` = note + (-12, +5, +12) semitones. A trial hits when the result's median pYIN f0 over
   1-2 s is within 0.5 semitone of ``P``; rates are over the pitched trials (pYIN voices at least half the
   frames). Both priors, each guidance scale and temperature. With ``--tagger DIR`` (a notes tagger), each
   note is also regenerated with ``--family F`` for three families other than its own, a hit being the
   tagger's top family ``F``; without it that column says it was not measured.
2. Seamlessness. Each of ``--seamless-notes`` notes (MIDI 36-84, so that 0-2 kHz holds the fundamental) gets
   an unconditioned edit of 1.0-2.0 s x 0-2000 Hz (the editor's composite output). Over the pitched notes
   (pYIN on the original's 1-2 s): how often the edit keeps the note's f0 within 0.5 semitone over the
   region's span, how often the region's level (spectrogram power in the rectangle) stays within 3 dB of
   the original's, and the spectral flux across the region's time edges divided by the plain codec round
   trip's (``spectrolab.edit.measures``). Both priors at each temperature.

``--library DIR`` repeats both on the test split of another sample library (never trained or tuned on).

    PYTHONPATH=src python scripts/prior_steering.py --data data/notes3 --library data/nsynth-sf_GMbank
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spectrolab.audio import io
from spectrolab.codec import Codec, load_codec
from spectrolab.data.nsynth import NSYNTH_FAMILIES, NSynthDataset
from spectrolab.edit.blur import BlurOptions
from spectrolab.edit.editor import edit_audio
from spectrolab.edit.measures import edge_flux_db, median_midi, region_level_db
from spectrolab.edit.region import Region
from spectrolab.plot import Panel, save_panels
from spectrolab.priors import Conditioning, Prior
from spectrolab.priors.api import load_prior
from spectrolab.sampling import DEFAULT_STEPS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from prior_results import log_mel_db, predicted_families  # noqa: E402

TARGET_OFFSETS = (-12, 5, 12)
FAMILY_OFFSETS = (1, 4, 7)  # target families: the note's own index + these, modulo 11
SEAMLESS_REGION = Region(start_s=1.0, stop_s=2.0, low_hz=0.0, high_hz=2000.0)
PITCH_SPAN_S = (1.0, 2.0)  # in the held part of every note
SEMITONES, DECIBELS, FLUX_RATIO = 0.5, 3.0, 1.5


@dataclass(frozen=True)
class Setting:
    """One way of editing: a prior with a temperature, a guidance scale and sampling steps."""

    prior: str
    temperature: float
    guidance: float = 1.0
    steps: int = DEFAULT_STEPS


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``counted`` trials (the pitched ones) among ``total``."""

    hits: int
    counted: int
    total: int

    def cell(self) -> str:
        share = f"{100 * self.hits / self.counted:.0f} %" if self.counted else "-"
        return f"{share} ({self.hits}/{self.counted})"


def spread_notes(dataset: NSynthDataset, count: int, *, pitches: range) -> list[int]:
    """``count`` indices of ``dataset`` evenly spread over its notes whose pitch is in ``pitches``."""
    eligible = [i for i, e in enumerate(dataset.examples) if e["pitch"] in pitches]
    return [eligible[round(k * (len(eligible) - 1) / max(1, count - 1))] for k in range(min(count, len(eligible)))]


def mono(audio: io.NativeAudio) -> np.ndarray:
    return audio.to_float().mean(axis=0)


def edit(
    audio: io.NativeAudio,
    *,
    codec: Codec,
    prior: Prior,
    region: Region,
    setting: Setting,
    seed: int,
    conditioning: Conditioning | None = None,
) -> np.ndarray:
    """The editor's output (mono float (T,)) for one edit."""
    options = BlurOptions(
        temperature=setting.temperature, guidance=setting.guidance, steps=setting.steps, seed=seed,
        conditioning=conditioning,
    )  # fmt: skip
    return mono(edit_audio(audio, codec=codec, prior=prior, region=region, options=options).audio)


def pitch_of(wave: np.ndarray, rate: int, span: tuple[float, float]) -> float | None:
    return median_midi(wave, sample_rate=rate, start_s=span[0], stop_s=span[1])


def conditioning_rows(
    dataset: NSynthDataset,
    indices: Sequence[int],
    *,
    codec: Codec,
    priors: dict[str, Prior],
    settings: Sequence[Setting],
    family_of: Callable[[list[np.ndarray]], list[int]] | None,
    label: str,
) -> list[str]:
    """Table rows: per setting, the pitch hit rate (and the family hit rate with a tagger)."""
    rows = []
    for setting in settings:
        started = time.perf_counter()
        hits = counted = total = 0
        errors: list[float] = []
        family_hits = family_total = 0
        for n, index in enumerate(indices):
            audio = io.read_native(dataset.audio_path(index))
            whole = Region(start_s=0.0, stop_s=audio.duration, low_hz=0.0, high_hz=audio.sample_rate / 2)
            pitch = dataset.examples[index]["pitch"]
            for k, offset in enumerate(TARGET_OFFSETS):
                target = pitch + offset
                out = edit(
                    audio, codec=codec, prior=priors[setting.prior], region=whole, setting=setting,
                    seed=3 * n + k, conditioning=Conditioning.from_names(target, None),
                )  # fmt: skip
                midi = pitch_of(out, audio.sample_rate, PITCH_SPAN_S)
                total += 1
                if midi is not None:
                    counted += 1
                    errors.append(abs(midi - target))
                    hits += int(abs(midi - target) <= SEMITONES)
            if family_of is not None:
                own = dataset.examples[index]["instrument_family"]
                targets = [(own + offset) % len(NSYNTH_FAMILIES) for offset in FAMILY_OFFSETS]
                outs = []
                for k, family in enumerate(targets):
                    labels = Conditioning.from_names(None, NSYNTH_FAMILIES[family])
                    prior = priors[setting.prior]
                    out = edit(audio, codec=codec, prior=prior, region=whole, setting=setting, seed=3 * n + k,
                               conditioning=labels)  # fmt: skip
                    outs.append(out)
                found = family_of(outs)
                family_hits += sum(int(f == t) for f, t in zip(found, targets, strict=True))
                family_total += len(targets)
        rate = Rate(hits, counted, total)
        error = f"{statistics.median(errors):.2f}" if errors else "-"
        family = Rate(family_hits, family_total, family_total).cell() if family_of is not None else "not measured"
        rows.append(
            f"| {label} | {setting.prior} | {setting.temperature:g} | {setting.guidance:g} | {rate.cell()} | "
            f"{counted}/{total} | {error} | {family} |"
        )
        print(rows[-1], f"{time.perf_counter() - started:.0f} s", flush=True)
    return rows


def family_ceiling(
    dataset: NSynthDataset, indices: Sequence[int], *, codec: Codec, family_of: Callable[[list[np.ndarray]], list[int]]
) -> tuple[int, int, int]:
    """How often the tagger names the notes' own family: (as rendered, after the codec's plain round trip, notes).
    A regenerated note is decoded codes too, so the second count bounds what ``--family`` hits can show."""
    originals, trips = [], []
    for index in indices:
        wave = mono(io.read_native(dataset.audio_path(index)))
        with torch.inference_mode():
            decoded = codec.decode(codec.encode(torch.from_numpy(wave).float()[None]))
        originals.append(wave)
        trips.append(decoded.reshape(-1).numpy())
    truth = [dataset.examples[i]["instrument_family"] for i in indices]
    as_rendered = sum(int(f == t) for f, t in zip(family_of(originals), truth, strict=True))
    round_trip = sum(int(f == t) for f, t in zip(family_of(trips), truth, strict=True))
    return as_rendered, round_trip, len(indices)


def seamless_rows(
    dataset: NSynthDataset,
    indices: Sequence[int],
    *,
    codec: Codec,
    priors: dict[str, Prior],
    settings: Sequence[Setting],
    label: str,
) -> list[str]:
    """Table rows: per setting, over the pitched notes, f0 kept, level kept, and the edge-flux ratio."""
    region = SEAMLESS_REGION
    span = (region.start_s, region.stop_s)
    notes = []
    for index in indices:
        audio = io.read_native(dataset.audio_path(index))
        original = mono(audio)
        midi = pitch_of(original, audio.sample_rate, span)
        if midi is None:
            continue
        with torch.inference_mode():
            wave = torch.from_numpy(original).float()[None]
            round_trip = codec.decode(codec.encode(wave))[0].double().numpy()
        reference_flux = edge_flux_db(round_trip, region, sample_rate=audio.sample_rate)
        level = region_level_db(original, region, sample_rate=audio.sample_rate)
        notes.append((index, audio, midi, reference_flux, level))
    rows = []
    for setting in settings:
        started = time.perf_counter()
        kept = level_kept = flux_ok = 0
        ratios, changes = [], []
        for n, (_, audio, midi, reference_flux, level) in enumerate(notes):
            rate = audio.sample_rate
            out = edit(audio, codec=codec, prior=priors[setting.prior], region=region, setting=setting, seed=n)
            edited_midi = pitch_of(out, rate, span)
            kept += int(edited_midi is not None and abs(edited_midi - midi) <= SEMITONES)
            change = region_level_db(out, region, sample_rate=rate) - level
            changes.append(change)
            level_kept += int(abs(change) <= DECIBELS)
            ratio = edge_flux_db(out, region, sample_rate=rate) / max(reference_flux, 1e-9)
            ratios.append(ratio)
            flux_ok += int(ratio <= FLUX_RATIO)
        count = len(notes)
        rows.append(
            f"| {label} | {setting.prior} | {setting.temperature:g} | {Rate(kept, count, len(indices)).cell()} | "
            f"{Rate(level_kept, count, count).cell()} | {statistics.median(changes):+.1f} | "
            f"{statistics.median(ratios):.2f} | {Rate(flux_ok, count, count).cell()} |"
        )
        print(rows[-1], f"{time.perf_counter() - started:.0f} s", flush=True)
    return rows


def steering_figure(
    dataset: NSynthDataset, index: int, *, codec: Codec, prior: Prior, setting: Setting, path: Path
) -> Path:
    """Log-mel spectrograms of a note and of its whole regenerations towards each target pitch."""
    audio = io.read_native(dataset.audio_path(index))
    whole = Region(start_s=0.0, stop_s=audio.duration, low_hz=0.0, high_hz=audio.sample_rate / 2)
    pitch = dataset.examples[index]["pitch"]
    waves = [(f"original (MIDI {pitch})", mono(audio))]
    for k, offset in enumerate(TARGET_OFFSETS):
        labels = Conditioning.from_names(pitch + offset, None)
        out = edit(audio, codec=codec, prior=prior, region=whole, setting=setting, seed=k, conditioning=labels)
        found = pitch_of(out, audio.sample_rate, PITCH_SPAN_S)
        heard = "unpitched" if found is None else f"pYIN {found:.1f}"
        waves.append((f"{setting.prior}, --pitch {pitch + offset} ({heard})", out))
    rep = codec.representation
    panels = [
        Panel(
            image=log_mel_db(torch.from_numpy(wave).float()[None], rep),
            title=title,
            seconds=audio.duration,
            row_hz=rep.frequencies(),
        )
        for title, wave in waves
    ]
    return save_panels(panels, path, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/notes3", help="NSynth-format dataset the priors were trained on")
    parser.add_argument("--library", help="another sample library (NSynth format), reported, never trained on")
    parser.add_argument("--nb", default="nb")
    parser.add_argument("--transformer", default="transformer")
    parser.add_argument("--codec", help="codec directory (default: shipped)")
    parser.add_argument("--tagger", help="notes tagger directory for the --family column (skipped if absent)")
    parser.add_argument("--notes", type=int, default=20, help="notes regenerated towards each target pitch")
    parser.add_argument("--seamless-notes", type=int, default=30, help="notes edited for the seamlessness table")
    parser.add_argument("--library-notes", type=int, default=6, help="notes per table of the other library")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.7, 1.0])
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--ceiling-only", action="store_true",
        help="only print how often the tagger names the conditioning notes' family, as rendered and decoded",
    )  # fmt: skip
    parser.add_argument("--out", default="results/prior_steering.md")
    parser.add_argument("--figure", default="docs/prior_steering.png", help="a note regenerated towards each target")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codec = load_codec(args.codec)
    priors: dict[str, Prior] = {"nb": load_prior(args.nb), "transformer": load_prior(args.transformer)}
    family_of = None
    tagger_note = "The --family column needs a notes tagger (--tagger DIR); none was given, so it was not measured."
    if args.tagger and (Path(args.tagger) / "config.json").is_file():
        from spectrolab.tag.predict import load_tagger

        tagger = load_tagger(args.tagger)
        family_of = lambda waves: predicted_families(tagger, [torch.from_numpy(w).float() for w in waves])  # noqa: E731
        tagger_note = f"Family hits: the top family of the notes tagger `{args.tagger}`."
    elif args.tagger:
        tagger_note = f"There is no tagger in `{args.tagger}`; the --family column was not measured."
    fields = ("pitch", "instrument_family")
    sets = [("unseen programs", NSynthDataset(args.data, "test", fields=fields), args.notes, args.seamless_notes)]
    if args.library:
        library = NSynthDataset(args.library, "test", fields=fields)
        sets.append(("other library", library, args.library_notes, args.library_notes))
    ceilings = []
    if family_of is not None:
        for label, dataset, notes, _ in sets:
            kept = family_ceiling(dataset, spread_notes(dataset, notes, pitches=range(48, 73)), codec=codec,
                                  family_of=family_of)  # fmt: skip
            ceilings.append(f"{label}: {kept[0]}/{kept[2]} as rendered, {kept[1]}/{kept[2]} after the round trip")
            print(ceilings[-1], flush=True)
    if args.ceiling_only:
        return
    steer = [Setting(p, t, g) for p in priors for t in args.temperatures for g in args.guidance]
    plain = [Setting(p, t) for p in priors for t in args.temperatures]
    conditioning, seamless = [], []
    for label, dataset, notes, seamless_notes in sets:
        conditioning += conditioning_rows(
            dataset, spread_notes(dataset, notes, pitches=range(48, 73)), codec=codec, priors=priors,
            settings=steer, family_of=family_of, label=label,
        )  # fmt: skip
        seamless += seamless_rows(
            dataset, spread_notes(dataset, seamless_notes, pitches=range(36, 85)), codec=codec, priors=priors,
            settings=plain, label=label,
        )  # fmt: skip
    first = spread_notes(sets[0][1], args.notes, pitches=range(48, 73))[0]
    shown = Setting("transformer", max(args.temperatures), max(args.guidance))
    print(steering_figure(sets[0][1], first, codec=codec, prior=priors["transformer"], setting=shown,
                          path=ROOT / args.figure))  # fmt: skip
    offsets = ", ".join(f"{o:+d}" for o in TARGET_OFFSETS)
    ceiling_lines = (
        ["The tagger's family for the conditioning notes themselves (their own family, no edit), the bound on what "
         "the --family column can show, since a regenerated note is decoded codes too: " + "; ".join(ceilings) + ".",
         ""]
        if ceilings else []
    )  # fmt: skip
    lines = [
        f"Conditioning: whole 4 s notes (MIDI 48-72, {args.notes} of unseen programs"
        + (f", {args.library_notes} of the other library" if args.library else "")
        + f") regenerated with `--pitch P`, P = note {offsets} semitones, {DEFAULT_STEPS} steps. A hit: median pYIN "
        f"f0 over {PITCH_SPAN_S[0]}-{PITCH_SPAN_S[1]} s within {SEMITONES} semitone of P, over the pitched trials "
        "(pYIN voices at least half the frames). Target: at least 80 % of pitched trials. " + tagger_note,
        "",
        "| notes | prior | temperature | guidance | pitch hits | pitched trials | median error (semitones) "
        "| --family hits |",
        "|---|---|---|---|---|---|---|---|",
        *conditioning,
        "",
        *ceiling_lines,
        f"Seamlessness: unconditioned edits of {SEAMLESS_REGION.start_s:g}-{SEAMLESS_REGION.stop_s:g} s x "
        f"{SEAMLESS_REGION.low_hz:g}-{SEAMLESS_REGION.high_hz:g} Hz (holding the fundamental: notes of MIDI "
        f"36-84), the editor's composite output, {DEFAULT_STEPS} steps, over the pitched notes: f0 over the region's "
        f"span within {SEMITONES} semitone of the original's (target 90 %), the region's level within {DECIBELS:g} dB "
        f"of the original's (target 90 %), and the spectral flux across its time edges over the plain codec "
        f"round trip's (target at most {FLUX_RATIO:g}x).",
        "",
        "| notes | prior | temperature | f0 kept | level within 3 dB | median level change (dB) "
        "| median edge flux / round trip | edges within 1.5x |",
        "|---|---|---|---|---|---|---|---|",
        *seamless,
        "",
        f"Produced by `PYTHONPATH=src python scripts/prior_steering.py {' '.join(sys.argv[1:])}` "
        f"({args.threads} thread).",
    ]
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

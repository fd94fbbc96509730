"""Render an NSynth-format dataset from a General-MIDI soundfont with FluidSynth.

Each mapped program (:data:`spectrolab.data.gm.GM_TO_NSYNTH`) becomes one instrument, e.g. program 24
becomes ``guitar_acoustic_024`` (``instrument`` = program number). Its notes are 4 s long (3 s held, 1 s
release) at 16 kHz, peak-normalised to 0.9, written as 16-bit WAV. Notes the soundfont renders silent
(pitches outside a preset's range) are dropped and counted. ``qualities`` are not annotated (all zero).

Splits are disjoint by program: within each family the programs are shuffled with the seed and about 10 %
go to test, 10 % to valid (at least one each once a family has 3 or more programs), the rest to train.
``max_per_program`` keeps a seeded subset of each program's notes that covers every playable pitch before
it repeats one.

Work is split per program: a worker opens one :class:`NoteRenderer` per program and renders its notes in a
fixed order, so the output is identical byte for byte whatever the number of workers. The dataset is
written to a temporary folder beside ``out_dir`` and renamed into place when complete.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from spectrolab import __version__
from spectrolab.audio import io
from spectrolab.data.gm import GM_TO_NSYNTH, GMInstrument
from spectrolab.data.nsynth_format import (
    EXAMPLES_FILE,
    MANIFEST_FILE,
    NSYNTH_FAMILIES,
    NSYNTH_PITCHES,
    NSYNTH_QUALITIES,
    NSYNTH_SOURCES,
    NSYNTH_VELOCITIES,
    SPLITS,
    split_dir,
)
from spectrolab.data.soundfont import (
    DEFAULT_SOUNDFONT,
    NoteRenderer,
    NoteSpec,
    find_soundfont,
    is_silent,
    normalize_loudness,
)
from spectrolab.data.staging import check_new_folder, staged_folder
from spectrolab.errors import ConfigError, SpectrolabWarning

HELD_OUT_FRACTION = 0.1
PROBE_SECONDS = 0.25


@dataclass(frozen=True)
class RenderConfig:
    """What to render. ``programs`` may include unmapped GM programs: they are skipped (see ``skipped``)."""

    soundfont: str = DEFAULT_SOUNDFONT
    programs: tuple[int, ...] = tuple(sorted(GM_TO_NSYNTH))
    pitches: tuple[int, ...] = NSYNTH_PITCHES
    velocities: tuple[int, ...] = NSYNTH_VELOCITIES
    seed: int = 0
    max_per_program: int | None = None
    sample_rate: int = 16000
    duration: float = 4.0
    hold: float = 3.0

    def __post_init__(self) -> None:
        for name in ("programs", "pitches", "velocities"):
            values = tuple(sorted({int(v) for v in getattr(self, name)}))
            if not values:
                raise ConfigError(f"{name}: the selection is empty")
            object.__setattr__(self, name, values)  # canonical: sorted, unique
        NoteSpec(program=max(self.programs), pitch=max(self.pitches), velocity=max(self.velocities))
        NoteSpec(program=min(self.programs), pitch=min(self.pitches), velocity=min(self.velocities))
        if not self.mapped:
            raise ConfigError(
                f"programs {list(self.programs)[:8]}: none is mapped to an NSynth family (see spectrolab.data.gm)"
            )
        if self.max_per_program is not None and self.max_per_program < 1:
            raise ConfigError(f"max_per_program={self.max_per_program} must be at least 1")
        if not 0 < self.hold <= self.duration:
            raise ConfigError(f"need 0 < hold <= duration, got hold={self.hold}, duration={self.duration}")

    @property
    def mapped(self) -> tuple[int, ...]:
        return tuple(p for p in self.programs if p in GM_TO_NSYNTH)

    @property
    def skipped(self) -> tuple[int, ...]:
        return tuple(p for p in self.programs if p not in GM_TO_NSYNTH)


def assign_splits(programs: Iterable[int], *, seed: int) -> dict[int, str]:
    """Program -> split, disjoint by program and balanced within each family (see the module docstring)."""
    by_family: dict[str, list[int]] = {}
    for program in sorted(set(programs)):
        by_family.setdefault(GM_TO_NSYNTH[program].family, []).append(program)
    splits: dict[int, str] = {}
    for family, members in by_family.items():
        rng = np.random.default_rng([seed, NSYNTH_FAMILIES.index(family)])
        order = [members[i] for i in rng.permutation(len(members))]
        n_held = max(1, round(HELD_OUT_FRACTION * len(order))) if len(order) >= 3 else 0
        for i, program in enumerate(order):
            splits[program] = "test" if i < n_held else "valid" if i < 2 * n_held else "train"
    return splits


def warn_empty_splits(splits: dict[int, str]) -> None:
    """Warn (:class:`SpectrolabWarning`) if valid or test gets no program: training would fail later on."""
    empty = [s for s in ("valid", "test") if s not in splits.values()]
    if not empty:
        return
    families = Counter(GM_TO_NSYNTH[p].family for p in splits)
    counts = ", ".join(f"{family} {n}" for family, n in sorted(families.items()))
    warnings.warn(
        f"{' and '.join(empty)} will hold no notes: splits are disjoint by program, and a family gives a program "
        f"to each of test and valid only once it has at least 3 programs (here: {counts or 'no mapped programs'}); "
        "render more programs of a family, e.g. --programs 0:7 (keyboards)",
        SpectrolabWarning,
        stacklevel=3,
    )


def choose_notes(
    pitches: tuple[int, ...], velocities: tuple[int, ...], *, limit: int | None, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """(pitch, velocity) pairs to render, sorted: all of them, or ``limit`` of them covering every pitch first.

    With a limit, velocity layers are dealt out round by round: each round gives every pitch (in a random
    order) one more velocity it does not have yet (in a random order per pitch).
    """
    if limit is None or limit >= len(pitches) * len(velocities):
        return [(p, v) for p in pitches for v in velocities]
    layers = [rng.permutation(velocities) for _ in pitches]
    dealt = [
        (pitches[i], int(layers[i][layer])) for layer in range(len(velocities)) for i in rng.permutation(len(pitches))
    ]
    return sorted(dealt[:limit])


def nsynth_example(instrument: GMInstrument, *, pitch: int, velocity: int, sample_rate: int) -> dict[str, Any]:
    """The examples.json entry of one rendered note, with exactly NSynth's keys."""
    instrument_str = f"{instrument.family}_{instrument.source}_{instrument.program:03d}"
    return {
        "note": (instrument.program * 128 + pitch) * 128 + velocity,
        "note_str": f"{instrument_str}-{pitch:03d}-{velocity:03d}",
        "instrument": instrument.program,
        "instrument_str": instrument_str,
        "pitch": pitch,
        "velocity": velocity,
        "sample_rate": sample_rate,
        "qualities": [0] * len(NSYNTH_QUALITIES),
        "qualities_str": [],
        "instrument_family": NSYNTH_FAMILIES.index(instrument.family),
        "instrument_family_str": instrument.family,
        "instrument_source": NSYNTH_SOURCES.index(instrument.source),
        "instrument_source_str": instrument.source,
    }


@dataclass(frozen=True)
class _ProgramTask:
    program: int
    split: str
    config: RenderConfig
    folder: Path


@dataclass(frozen=True)
class _ProgramResult:
    split: str
    examples: dict[str, dict[str, Any]]
    silent: int


def _playable_pitches(renderer: NoteRenderer, task: _ProgramTask) -> tuple[int, ...]:
    """Pitches whose loudest note is audible within :data:`PROBE_SECONDS` (out-of-range ones are silent)."""
    loudest = max(task.config.velocities)
    probe = {"duration": PROBE_SECONDS, "hold": PROBE_SECONDS}
    return tuple(
        p for p in task.config.pitches if not is_silent(renderer.render(NoteSpec(task.program, p, loudest), **probe))
    )


def _render_program(task: _ProgramTask) -> _ProgramResult:
    """Render, normalise and write one program's notes into ``task.folder/audio``."""
    config, instrument = task.config, GM_TO_NSYNTH[task.program]
    examples: dict[str, dict[str, Any]] = {}
    with NoteRenderer(config.soundfont, sample_rate=config.sample_rate) as renderer:
        pitches = config.pitches
        if config.max_per_program is not None:
            pitches = _playable_pitches(renderer, task) or pitches
        rng = np.random.default_rng([config.seed, task.program])
        notes = choose_notes(pitches, config.velocities, limit=config.max_per_program, rng=rng)
        for pitch, velocity in notes:
            wave = renderer.render(NoteSpec(task.program, pitch, velocity), duration=config.duration, hold=config.hold)
            if is_silent(wave):
                continue
            example = nsynth_example(instrument, pitch=pitch, velocity=velocity, sample_rate=config.sample_rate)
            path = task.folder / "audio" / f"{example['note_str']}.wav"
            io.save(path, normalize_loudness(wave), sample_rate=config.sample_rate, subtype="PCM_16")
            examples[example["note_str"]] = example
    return _ProgramResult(task.split, examples, silent=len(notes) - len(examples))


@dataclass(frozen=True)
class RenderReport:
    """What :func:`render_nsynth` wrote."""

    out_dir: Path
    notes: dict[str, int]
    programs: dict[str, tuple[int, ...]]
    silent_dropped: int
    skipped_programs: tuple[int, ...]
    seconds: float = field(compare=False)

    @property
    def total(self) -> int:
        return sum(self.notes.values())


def _run_tasks(tasks: list[_ProgramTask], *, workers: int) -> Iterator[_ProgramResult]:
    if workers == 1:
        yield from map(_render_program, tasks)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap_unordered(_render_program, tasks)


def _write_outputs(
    tmp: Path, config: RenderConfig, splits: dict[int, str], results: list[_ProgramResult]
) -> dict[str, Any]:
    """Write each split's examples.json and the manifest; return the manifest."""
    notes: Counter[str] = Counter()
    for split in SPLITS:
        examples = {k: v for r in results if r.split == split for k, v in r.examples.items()}
        notes[split] = len(examples)
        io.atomic_write_bytes(
            split_dir(tmp, split) / EXAMPLES_FILE, json.dumps(examples, indent=2, sort_keys=True).encode()
        )
    manifest = {
        "spectrolab_version": __version__,
        "config": asdict(config),
        "soundfont_path": str(find_soundfont(config.soundfont)),
        "splits": {s: sorted(p for p, ps in splits.items() if ps == s) for s in SPLITS},
        "notes": dict(notes),
        "silent_dropped": sum(r.silent for r in results),
        "skipped_programs": list(config.skipped),
    }
    io.atomic_write_bytes(tmp / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest


def render_nsynth(
    config: RenderConfig, out_dir: str | Path, *, workers: int = 1, force: bool = False, progress: bool = False
) -> RenderReport:
    """Render ``config`` into ``out_dir`` (nsynth-{train,valid,test}/ and render.json) with ``workers`` processes.

    Refuses an existing ``out_dir`` unless ``force``; nothing is left behind if rendering fails.
    """
    out_dir = Path(out_dir)
    check_new_folder(out_dir, force=force)
    if workers < 1:
        raise ConfigError(f"workers={workers} must be at least 1")
    find_soundfont(config.soundfont)
    start = time.perf_counter()
    splits = assign_splits(config.mapped, seed=config.seed)
    warn_empty_splits(splits)
    with staged_folder(out_dir, force=force) as tmp:
        tasks = [_ProgramTask(p, splits[p], config, split_dir(tmp, splits[p])) for p in config.mapped]
        grid = len(config.pitches) * len(config.velocities)
        per_task = min(grid, config.max_per_program or grid)
        results = []
        with tqdm(total=len(tasks) * per_task, unit="note", disable=not progress, desc="rendering") as bar:
            for result in _run_tasks(tasks, workers=min(workers, len(tasks))):
                results.append(result)
                bar.update(per_task)
        manifest = _write_outputs(tmp, config, splits, results)
    return RenderReport(
        out_dir=out_dir,
        notes=manifest["notes"],
        programs={s: tuple(ps) for s, ps in manifest["splits"].items()},
        silent_dropped=manifest["silent_dropped"],
        skipped_programs=config.skipped,
        seconds=time.perf_counter() - start,
    )

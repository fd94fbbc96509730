"""Multi-instrument clips with multi-label tags, rendered from random but musical MIDI.

Each clip has a key (root + major/minor), a tempo, a chord progression built from the scale's triads, and two
to four parts -- melody, chords, bass line, counter-melody -- each played by a General-MIDI program of a
different instrument family, optionally with a drum kit. Its tags are the families present, the mode
(``major``/``minor``), a tempo bucket (``slow`` < 90 BPM <= ``medium`` < 130 BPM <= ``fast``) and ``drums``.
The programs of every family are split into train/valid/test so that the splits are disjoint by program:
a model is evaluated on instruments (timbres) it never heard. A recipe with ``train_programs="train+valid"``
lets the train split play the valid split's programs too (more instruments to learn from); its validation
then measures clips of seen programs, and the test split, with its programs, stays out of training.

Layout written by :func:`render_clips`::

    DIR/labels.json                 label names in order, and the recipe (soundfont, seed, counts, programs)
    DIR/{train,valid,test}/NNNNN.wav
    DIR/{train,valid,test}/metadata.csv   file, duration, tempo, key, programs, tags (';'-separated),
                                    soundfont
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spectrolab.data.gm import GM_TO_NSYNTH
from spectrolab.data.nsynth_format import NSYNTH_FAMILIES
from spectrolab.data.soundfont import SoundfontSynth, normalize_loudness
from spectrolab.errors import ConfigError, DataError, OutputExistsError

SPLITS: tuple[str, ...] = ("train", "valid", "test")
METADATA_NAME = "metadata.csv"
LABELS_NAME = "labels.json"

# The GM programs of each NSynth family, from the table in spectrolab.data.gm (ambiguous programs are left out).
FAMILY_PROGRAMS: dict[str, tuple[int, ...]] = {
    family: tuple(sorted(p for p, info in GM_TO_NSYNTH.items() if info.family == family)) for family in NSYNTH_FAMILIES
}
FAMILIES: tuple[str, ...] = NSYNTH_FAMILIES
MODES: tuple[str, ...] = ("major", "minor")
TEMPOS: tuple[str, ...] = ("slow", "medium", "fast")
LABELS: tuple[str, ...] = (*FAMILIES, *MODES, *TEMPOS, "drums")

# Which families may play which part (a bass line needs a low register).
ROLE_FAMILIES: dict[str, tuple[str, ...]] = {
    "melody": ("brass", "flute", "guitar", "keyboard", "mallet", "reed", "string", "synth_lead", "vocal"),
    "chords": ("guitar", "keyboard", "mallet", "organ", "string", "brass", "vocal"),
    "bass": ("bass",),
    "counter": ("brass", "flute", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal"),
}
SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 4, 5, 3),
    (0, 3, 4, 4),
    (0, 5, 3, 4),
    (5, 3, 0, 4),
    (0, 3, 0, 4),
    (1, 4, 0, 0),
)
DRUM_CHANNEL = 9
KICK, SNARE, HIHAT = 36, 38, 42


@dataclass(frozen=True)
class Note:
    """A MIDI note on ``channel`` from ``start`` for ``duration`` seconds."""

    channel: int
    pitch: int
    velocity: int
    start: float
    duration: float


@dataclass(frozen=True)
class ClipSpec:
    """What a clip plays: its key, tempo, parts (role -> GM program) and notes; ``tags`` derive from these."""

    duration: float
    tempo: float
    root: int
    mode: str
    programs: dict[str, int]
    drums: bool
    notes: tuple[Note, ...] = field(repr=False)

    @property
    def tags(self) -> list[str]:
        families = sorted({program_family(p) for p in self.programs.values()})
        tempo = "slow" if self.tempo < 90 else "medium" if self.tempo < 130 else "fast"
        return [*families, self.mode, tempo, *(["drums"] if self.drums else [])]


def program_family(program: int) -> str:
    """The instrument family of a GM program listed in :data:`FAMILY_PROGRAMS`."""
    for family, programs in FAMILY_PROGRAMS.items():
        if program in programs:
            return family
    raise ConfigError(f"GM program {program} has no instrument family in FAMILY_PROGRAMS")


TRAIN_PROGRAMS: tuple[str, ...] = ("train", "train+valid")


def split_programs(split: str, *, train_programs: str = "train") -> dict[str, tuple[int, ...]]:
    """The programs of each family that ``split`` may use: every 5th program from offset 0..2 go to valid and
    test in turn, so that the splits are disjoint and each holds at least one program of every family.

    ``train_programs="train+valid"`` gives the train split the valid split's programs as well (never the test
    split's)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")
    if train_programs not in TRAIN_PROGRAMS:
        raise ConfigError(f"unknown train_programs '{train_programs}'; use one of {', '.join(TRAIN_PROGRAMS)}")
    held = {"valid": 1, "test": 2}
    if split == "train" and train_programs == "train+valid":
        held = {"test": 2}
    out = {}
    for family, programs in FAMILY_PROGRAMS.items():
        positions = range(len(programs))
        if split == "train":
            chosen = [p for i, p in zip(positions, programs, strict=True) if i % 5 not in held.values()]
        else:
            chosen = [p for i, p in zip(positions, programs, strict=True) if i % 5 == held[split]]
        out[family] = tuple(chosen or programs[:1])
    return out


def scale_pitches(root: int, mode: str, low: int, high: int) -> list[int]:
    """MIDI pitches in [low, high] of the scale ``mode`` on ``root`` (0 = C)."""
    steps = SCALES[mode]
    return [p for p in range(low, high + 1) if (p - root) % 12 in steps]


def triad(root: int, mode: str, degree: int, low: int) -> list[int]:
    """The three pitches of the scale's triad on ``degree`` (0-6), the lowest at or above ``low``."""
    steps = SCALES[mode]
    classes = [(root + steps[(degree + k) % 7]) % 12 for k in (0, 2, 4)]
    base = low + (classes[0] - low) % 12
    return [base + (c - classes[0]) % 12 for c in classes]


def _melody(rng: np.random.Generator, chords: list[list[int]], bar: float, channel: int, low: int) -> list[Note]:
    """A random walk on chord tones and their neighbours, in eighths, quarters and halves."""
    notes, pitch = [], chords[0][0] + 12
    for i, chord in enumerate(chords):
        t, end = i * bar, (i + 1) * bar
        while t < end - 1e-6:
            length = min(bar / float(rng.choice([8, 4, 4, 2])), end - t)
            tones = [p + 12 * k for p in chord for k in (0, 1, 2) if low <= p + 12 * k <= low + 24]
            pitch = min(tones, key=lambda p: abs(p - pitch) + 3 * rng.random())
            if rng.random() < 0.85:
                notes.append(Note(channel, pitch, int(rng.integers(70, 110)), t, length * 0.95))
            t += length
    return notes


def _chords(rng: np.random.Generator, chords: list[list[int]], bar: float, channel: int) -> list[Note]:
    """Block chords: whole bars or four quarter-note hits per bar."""
    per_bar = int(rng.choice([1, 4]))
    step = bar / per_bar
    return [
        Note(channel, p, int(rng.integers(55, 85)), i * bar + k * step, step * 0.95)
        for i, chord in enumerate(chords)
        for k in range(per_bar)
        for p in chord
    ]


def _bass(rng: np.random.Generator, chords: list[list[int]], bar: float, channel: int) -> list[Note]:
    """Chord roots two octaves down, in half or quarter notes, with the fifth on the off-beat."""
    per_bar = int(rng.choice([2, 4]))
    step = bar / per_bar
    notes = []
    for i, chord in enumerate(chords):
        for k in range(per_bar):
            pitch = chord[0] - 24 + (7 if k % 2 and rng.random() < 0.5 else 0)
            notes.append(Note(channel, pitch, int(rng.integers(80, 110)), i * bar + k * step, step * 0.9))
    return notes


def _drums(rng: np.random.Generator, bars: int, bar: float) -> list[Note]:
    """Kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on eighths."""
    beat = bar / 4
    notes = []
    for i in range(bars):
        for k in range(8):
            t = i * bar + k * beat / 2
            notes.append(Note(DRUM_CHANNEL, HIHAT, int(rng.integers(50, 80)), t, beat / 4))
            if k % 2 == 0:
                notes.append(Note(DRUM_CHANNEL, KICK if k % 4 == 0 else SNARE, int(rng.integers(85, 115)), t, beat / 2))
    return notes


def _choose_parts(rng: np.random.Generator, programs: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """Two to four parts (always a melody), each from a family no other part uses."""
    roles = ["melody", *(str(r) for r in rng.permutation(["chords", "bass", "counter"])[: int(rng.integers(1, 4))])]
    used: set[str] = set()
    parts = {}
    for role in roles:
        families = [f for f in ROLE_FAMILIES[role] if f not in used]
        family = str(rng.choice(families))
        used.add(family)
        parts[role] = int(rng.choice(programs[family]))
    return parts


def random_clip(
    rng: np.random.Generator, programs: dict[str, tuple[int, ...]], *, min_duration: float, max_duration: float
) -> ClipSpec:
    """A random musical clip using only ``programs`` (family -> allowed GM programs)."""
    duration = float(rng.uniform(min_duration, max_duration))
    tempo = float(rng.uniform(60, 180))
    root, mode = int(rng.integers(12)), str(rng.choice(MODES))
    bar = 240.0 / tempo
    bars = int(np.ceil(duration / bar))
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    chords = [triad(root, mode, progression[i % len(progression)], 48) for i in range(bars)]
    parts = _choose_parts(rng, programs)
    makers: dict[str, Callable[[int], list[Note]]] = {
        "melody": lambda ch: _melody(rng, chords, bar, ch, 64),
        "chords": lambda ch: _chords(rng, chords, bar, ch),
        "bass": lambda ch: _bass(rng, chords, bar, ch),
        "counter": lambda ch: _melody(rng, chords, bar, ch, 52),
    }
    notes = [n for channel, role in enumerate(parts) for n in makers[role](channel)]
    drums = bool(rng.random() < 0.5)
    notes += _drums(rng, bars, bar) if drums else []
    kept = tuple(sorted((n for n in notes if n.start < duration), key=lambda n: n.start))
    return ClipSpec(duration, tempo, root, mode, parts, drums, kept)


class ClipRenderer(SoundfontSynth):
    """Renders a :class:`ClipSpec` on several MIDI channels (dry)."""

    def __init__(self, soundfont: str | os.PathLike[str], *, sample_rate: int = 16000) -> None:
        super().__init__(soundfont, sample_rate=sample_rate, gain=0.4)

    def _events(self, clip: ClipSpec) -> list[tuple[int, int, Note]]:
        """(sample, on=1/off=0, note), sorted so that offs come before ons at the same sample."""
        events = []
        for n in clip.notes:
            events.append((round(n.start * self.sample_rate), 1, n))
            events.append((round((n.start + n.duration) * self.sample_rate), 0, n))
        return sorted(events, key=lambda e: (e[0], e[1]))

    def render(self, clip: ClipSpec) -> np.ndarray:
        """The clip as mono float32 (T,) with T = round(duration * sample_rate), peak-normalised to 0.9."""
        synth = self._synth
        synth.system_reset()
        for channel, program in enumerate(clip.programs.values()):
            synth.program_select(channel, self._sfid, 0, program)
        if clip.drums:
            synth.program_select(DRUM_CHANNEL, self._sfid, 128, 0)
        total = round(clip.duration * self.sample_rate)
        blocks, now = [], 0
        for sample, on, note in self._events(clip):
            sample = min(sample, total)
            if sample > now:
                blocks.append(synth.get_samples(sample - now))
                now = sample
            if on:
                synth.noteon(note.channel, note.pitch, note.velocity)
            else:
                synth.noteoff(note.channel, note.pitch)
        if total > now:
            blocks.append(synth.get_samples(total - now))
        stereo = np.concatenate(blocks).astype(np.float32).reshape(-1, 2) / 32768.0
        return normalize_loudness(stereo.mean(axis=1))


@dataclass(frozen=True)
class ClipRecipe:
    """Everything that determines a rendered clip dataset; stored in ``labels.json``.

    ``soundfont`` is one GM soundfont or several (sample libraries): clip ``i`` of every split is played by
    the ``i % len(soundfonts)``-th, so that each library plays the same share of each split.
    ``train_programs``: see :func:`split_programs`; the valid and test clips do not depend on it, and train
    clip ``i`` draws the same random numbers either way (it may pick other programs).
    """

    soundfont: str | tuple[str, ...] = "FluidR3_GM.sf2"
    seed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"train": 400, "valid": 80, "test": 120})
    min_duration: float = 10.0
    max_duration: float = 30.0
    sample_rate: int = 16000
    train_programs: str = "train"

    def __post_init__(self) -> None:
        split_programs("train", train_programs=self.train_programs)  # refuses an unknown choice
        if not 0 < self.min_duration <= self.max_duration:
            raise ConfigError(f"need 0 < min_duration <= max_duration, got {self.min_duration}, {self.max_duration}")
        if set(self.counts) - set(SPLITS) or any(c < 0 for c in self.counts.values()):
            raise ConfigError(f"counts must map splits {SPLITS} to non-negative numbers, got {self.counts}")
        if not self.soundfonts or len(set(self.soundfonts)) != len(self.soundfonts):
            raise ConfigError(f"need one soundfont or several distinct ones, got {self.soundfont!r}")

    @property
    def soundfonts(self) -> tuple[str, ...]:
        return (self.soundfont,) if isinstance(self.soundfont, str) else tuple(self.soundfont)


def _metadata_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["file"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _render_split(
    renderers: Sequence[ClipRenderer], recipe: ClipRecipe, split: str, directory: Path, indices: range
) -> list[dict[str, str]]:
    from spectrolab.audio.io import save  # torch: imported on use, so that the command line starts fast

    programs = split_programs(split, train_programs=recipe.train_programs)
    rows = []
    for index in indices:
        rng = np.random.default_rng([recipe.seed, SPLITS.index(split), index])
        clip = random_clip(rng, programs, min_duration=recipe.min_duration, max_duration=recipe.max_duration)
        name = f"{index:05d}.wav"
        renderer = renderers[index % len(renderers)]
        save(directory / name, renderer.render(clip), sample_rate=recipe.sample_rate, force=True)
        rows.append(
            {
                "file": name,
                "duration": f"{clip.duration:.3f}",
                "tempo": f"{clip.tempo:.1f}",
                "key": f"{clip.root}:{clip.mode}",
                "programs": ";".join(f"{role}={p}" for role, p in clip.programs.items()),
                "tags": ";".join(clip.tags),
                "soundfont": recipe.soundfonts[index % len(renderers)],
            }
        )
    return rows


def _render_block(recipe: ClipRecipe, split: str, directory: Path, indices: range) -> list[dict[str, str]]:
    """One worker's share of a split, with synthesisers of its own."""
    with contextlib.ExitStack() as stack:
        renderers = [
            stack.enter_context(ClipRenderer(sf, sample_rate=recipe.sample_rate)) for sf in recipe.soundfonts
        ]  # fmt: skip
        return _render_split(renderers, recipe, split, directory, indices)


def _blocks(count: int, workers: int) -> list[range]:
    """``range(count)`` cut into ``workers`` contiguous blocks of near-equal size (empty ones dropped)."""
    edges = np.linspace(0, count, workers + 1).round().astype(int)
    return [range(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def render_clips(
    directory: str | os.PathLike[str],
    recipe: ClipRecipe,
    *,
    force: bool = False,
    workers: int = 1,
    progress: Callable[[str, int], None] | None = None,
) -> Path:
    """Render the clip dataset of ``recipe`` into ``directory`` (layout in the module docstring).

    ``workers`` > 1 renders each split in that many contiguous blocks of clips, each in its own process with
    synthesisers of its own. A synthesiser's renders depend slightly on what it rendered before (FluidSynth
    renders in blocks), so the samples depend on the number of workers too: ``labels.json`` records it, and
    the same recipe and workers give the same files.
    """
    from spectrolab.audio.io import atomic_write_bytes  # torch: imported on use

    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    directory = Path(directory)
    if (directory / LABELS_NAME).exists() and not force:
        raise OutputExistsError(f"{directory}: holds a clip dataset already; pass --force to overwrite")
    with contextlib.ExitStack() as stack:
        renderers = [] if workers > 1 else [
            stack.enter_context(ClipRenderer(sf, sample_rate=recipe.sample_rate)) for sf in recipe.soundfonts
        ]  # fmt: skip
        pool = (
            stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")))
            if workers > 1
            else None
        )
        for split in SPLITS:
            count = recipe.counts.get(split, 0)
            if pool is None:
                rows = _render_split(renderers, recipe, split, directory / split, range(count))
            else:
                blocks = _blocks(count, workers)
                jobs = [pool.submit(_render_block, recipe, split, directory / split, b) for b in blocks]
                rows = [row for job in jobs for row in job.result()]
            atomic_write_bytes(directory / split / METADATA_NAME, _metadata_csv(rows), force=True)
            if progress is not None:
                progress(split, len(rows))
    info = {
        "labels": list(LABELS),
        "recipe": asdict(recipe),
        "programs": {s: split_programs(s, train_programs=recipe.train_programs) for s in SPLITS},
        "workers": workers,
    }
    atomic_write_bytes(directory / LABELS_NAME, (json.dumps(info, indent=2) + "\n").encode(), force=True)
    return directory


@dataclass(frozen=True)
class ClipIndex:
    """One split of a clip dataset: audio files, their tags as a multi-hot matrix, and the label names."""

    files: list[Path]
    targets: np.ndarray
    labels: list[str]


def read_clip_split(directory: str | os.PathLike[str], split: str) -> ClipIndex:
    """Read ``DIR/split/metadata.csv`` and ``DIR/labels.json`` into a :class:`ClipIndex` (targets (N, C))."""
    directory = Path(directory)
    labels_path, meta_path = directory / LABELS_NAME, directory / split / METADATA_NAME
    for path in (labels_path, meta_path):
        if not path.is_file():
            raise DataError(f"{path}: missing; is {directory} a clip dataset (spectrolab data clips)?")
    labels: Sequence[str] = json.loads(labels_path.read_text())["labels"]
    column = {name: i for i, name in enumerate(labels)}
    with meta_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    targets = np.zeros((len(rows), len(labels)), dtype=np.float32)
    for i, row in enumerate(rows):
        for tag in filter(None, row["tags"].split(";")):
            if tag not in column:
                raise DataError(f"{meta_path}: row {i + 2} has tag '{tag}' missing from {labels_path}")
            targets[i, column[tag]] = 1.0
    return ClipIndex(files=[directory / split / r["file"] for r in rows], targets=targets, labels=list(labels))


@dataclass(frozen=True)
class ClipSplitSummary:
    """One split of a clip dataset in numbers: clips, seconds of audio, and how many clips carry each tag."""

    clips: int
    seconds: float
    tags: dict[str, int]


def summarise_clips(directory: str | os.PathLike[str]) -> dict[str, ClipSplitSummary]:
    """:class:`ClipSplitSummary` of each split present in a clip dataset (``spectrolab data info``)."""
    directory = Path(directory)
    summary = {}
    for split in SPLITS:
        if not (directory / split / METADATA_NAME).is_file():
            continue
        index = read_clip_split(directory, split)
        with (directory / split / METADATA_NAME).open(newline="") as fh:
            seconds = sum(float(row["duration"]) for row in csv.DictReader(fh))
        counts = index.targets.sum(axis=0).astype(int).tolist()
        summary[split] = ClipSplitSummary(len(index.files), seconds, dict(zip(index.labels, counts, strict=True)))
    return summary

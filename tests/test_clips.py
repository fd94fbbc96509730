"""Rendered multi-instrument clips: musical MIDI (scale, triads), tags, program-disjoint splits, rendering
against the single-note renderer, the dataset layout and the ``data clips`` command."""

from __future__ import annotations

import argparse
import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import stft

from spectrolab.cli import clips as clips_cli
from spectrolab.cli.main import main
from spectrolab.data.clips import (
    DRUM_CHANNEL,
    FAMILY_PROGRAMS,
    LABELS,
    SPLITS,
    ClipRecipe,
    ClipRenderer,
    ClipSpec,
    Note,
    random_clip,
    read_clip_split,
    render_clips,
    scale_pitches,
    split_programs,
    triad,
)
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteSpec, normalize_loudness
from spectrolab.data.tracks import dataset_recipe
from spectrolab.errors import ConfigError, OutputExistsError


def test_scales_and_triads_by_hand():
    assert scale_pitches(0, "major", 60, 72) == [60, 62, 64, 65, 67, 69, 71, 72]
    assert scale_pitches(9, "minor", 57, 69) == [57, 59, 60, 62, 64, 65, 67, 69]  # A minor = C major's notes
    assert triad(0, "major", 0, 48) == [48, 52, 55]  # C E G
    assert triad(0, "major", 4, 48) == [55, 59, 62]  # G B D
    assert triad(9, "minor", 0, 48) == [57, 60, 64]  # A C E


def test_splits_are_disjoint_by_program_and_cover_every_family():
    per_split = {s: split_programs(s) for s in SPLITS}
    for family, programs in FAMILY_PROGRAMS.items():
        sets = [set(per_split[s][family]) for s in SPLITS]
        assert all(sets), family
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]), family
        assert set().union(*sets) <= set(programs)
    with pytest.raises(ConfigError):
        split_programs("dev")


def test_train_programs_can_take_the_valid_programs_but_never_the_test_programs():
    plain, wide = split_programs("train"), split_programs("train", train_programs="train+valid")
    valid, test = split_programs("valid"), split_programs("test")
    for family in FAMILY_PROGRAMS:
        assert set(wide[family]) == set(plain[family]) | set(valid[family]), family
        assert not set(wide[family]) & set(test[family]), family
    # the other splits do not depend on it
    assert split_programs("valid", train_programs="train+valid") == valid
    assert split_programs("test", train_programs="train+valid") == test
    with pytest.raises(ConfigError, match="train_programs"):
        ClipRecipe(train_programs="everything")


def test_random_clips_are_in_key_and_tagged_by_their_programs():
    programs = split_programs("train")
    for seed in range(20):
        clip = random_clip(np.random.default_rng(seed), programs, min_duration=5, max_duration=8)
        assert 5 <= clip.duration <= 8 and 2 <= len(clip.programs) <= 4 and "melody" in clip.programs
        in_key = set(scale_pitches(clip.root, clip.mode, 0, 127))
        roles = list(clip.programs)
        for note in clip.notes:
            assert 0 <= note.start < clip.duration
            if note.channel != DRUM_CHANNEL and roles[note.channel] != "bass":
                assert note.pitch in in_key
        families = [f for f in FAMILY_PROGRAMS if any(p in FAMILY_PROGRAMS[f] for p in clip.programs.values())]
        tempo = "slow" if clip.tempo < 90 else "medium" if clip.tempo < 130 else "fast"
        expected = [*families, clip.mode, tempo, *(["drums"] if clip.drums else [])]
        assert clip.tags == expected and len(families) == len(clip.programs)  # one family per part
        assert all(p in programs[f] for p in clip.programs.values() for f in families if p in FAMILY_PROGRAMS[f])


def test_one_note_clip_sounds_like_the_note_renderer(renderer):
    spec = ClipSpec(4.0, 120.0, 0, "major", {"melody": 40}, False, (Note(0, 67, 100, 0.0, 3.0),))
    with ClipRenderer(TEST_SOUNDFONT) as clip_renderer:
        clip = clip_renderer.render(spec)
        again = clip_renderer.render(spec)
    note = normalize_loudness(renderer.render(NoteSpec(program=40, pitch=67, velocity=100)))
    assert clip.shape == note.shape == (64000,)
    # Same synthesiser and note: equal up to FluidSynth's int16 dither (a few LSB after normalisation).
    assert np.abs(clip - again).max() < 2e-3
    assert np.abs(clip - note).max() < 2e-3


def test_rendered_dataset_layout_and_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    clips_cli.register(parser.add_subparsers(dest="command"))
    argv = ["data", "clips", str(tmp_path), "--soundfont", TEST_SOUNDFONT, "--counts", "3", "2", "2"]
    argv += ["--min-duration", "1", "--max-duration", "2", "--seed", "3"]
    args = parser.parse_args(argv)
    assert args.run(args) == 0
    assert "test: 2 clips" in capsys.readouterr().out
    info = json.loads((tmp_path / "labels.json").read_text())
    assert info["labels"] == list(LABELS) and info["recipe"]["seed"] == 3
    for split, count in zip(SPLITS, (3, 2, 2), strict=True):
        index = read_clip_split(tmp_path, split)
        with open(tmp_path / split / "metadata.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(index.files) == count == len(rows)
        for row, path, target in zip(rows, index.files, index.targets, strict=True):
            assert [LABELS[i] for i in np.flatnonzero(target)] == sorted(row["tags"].split(";"), key=LABELS.index)
            assert abs(sf.info(str(path)).frames - float(row["duration"]) * 16000) <= 8  # duration in ms
            programs = [int(p.split("=")[1]) for p in row["programs"].split(";")]
            assert all(p in sum(split_programs(split).values(), ()) for p in programs)
    with pytest.raises(OutputExistsError):
        render_clips(tmp_path, ClipRecipe(soundfont=TEST_SOUNDFONT, counts={"train": 1}))
    assert main(["data", "info", str(tmp_path)]) == 0  # data info describes clip datasets too
    table = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert table["tag"] == ["train", "valid", "test"] and table["clips"] == ["3", "2", "2"]
    assert set(table) >= set(LABELS) and "rendered" in table["clip"]


def test_workers_render_the_same_clips_in_blocks(tmp_path):
    fonts = (TEST_SOUNDFONT, "FluidR3_GM.sf2")
    recipe = ClipRecipe(soundfont=fonts, counts={"train": 5, "valid": 1}, min_duration=1, max_duration=2,
                        train_programs="train+valid")  # fmt: skip
    render_clips(tmp_path / "one", recipe)
    render_clips(tmp_path / "two", recipe, workers=2)
    for split in ("train", "valid"):
        texts = [(tmp_path / d / split / "metadata.csv").read_text() for d in ("one", "two")]
        rows = [list(csv.DictReader(io.StringIO(text))) for text in texts]
        assert rows[0] == rows[1] and len(rows[0]) == recipe.counts[split]  # the same clips, in order
        for row in rows[0]:
            one, two = (sf.read(tmp_path / d / split / row["file"])[0] for d in ("one", "two"))
            assert one.shape == two.shape
            # block 2 starts with fresh synthesisers, so its samples differ (oscillator phases): the same notes
            # play, so the log-magnitude spectrograms agree
            spec_one, spec_two = (np.log(np.abs(stft(x, nperseg=1024)[2]) + 1e-4).ravel() for x in (one, two))
            assert np.corrcoef(spec_one, spec_two)[0, 1] > 0.95
    # clip 0 (each block's first render) is the same file either way
    assert (tmp_path / "one/train/00000.wav").read_bytes() == (tmp_path / "two/train/00000.wav").read_bytes()
    infos = [json.loads((tmp_path / d / "labels.json").read_text()) for d in ("one", "two")]
    assert (infos[0]["workers"], infos[1]["workers"]) == (1, 2)
    assert infos[1]["recipe"]["train_programs"] == "train+valid"
    recipe_two = dataset_recipe(tmp_path / "two")  # what a model trained on it records
    assert recipe_two is not None and recipe_two["workers"] == 2 and recipe_two["train_programs"] == "train+valid"
    with pytest.raises(ConfigError, match="workers"):
        render_clips(tmp_path / "three", recipe, workers=0)


def test_several_soundfonts_take_turns_clip_by_clip(tmp_path):
    fonts = (TEST_SOUNDFONT, "FluidR3_GM.sf2")
    recipe = ClipRecipe(soundfont=fonts, counts={"train": 3}, min_duration=1, max_duration=2)
    render_clips(tmp_path, recipe)
    with open(tmp_path / "train" / "metadata.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["soundfont"] for r in rows] == [TEST_SOUNDFONT, "FluidR3_GM.sf2", TEST_SOUNDFONT]
    specs = [random_clip(np.random.default_rng([0, 0, i]), split_programs("train"), min_duration=1, max_duration=2)
             for i in range(2)]  # fmt: skip
    # Clips 0 and 1 are each their synthesiser's first render, so a fresh synthesiser of the same library
    # plays them alike (a synthesiser's later renders depend on what it rendered before: FluidSynth's blocks).
    for index, soundfont, other in ((0, TEST_SOUNDFONT, "FluidR3_GM.sf2"), (1, "FluidR3_GM.sf2", TEST_SOUNDFONT)):
        written = sf.read(tmp_path / "train" / f"{index:05d}.wav")[0]
        with ClipRenderer(soundfont) as alone, ClipRenderer(other) as wrong:
            assert np.abs(written - alone.render(specs[index])).max() < 2e-3  # the 16-bit file's rounding
            assert np.abs(written - wrong.render(specs[index])).max() > 0.05
    info = json.loads((tmp_path / "labels.json").read_text())
    assert info["recipe"]["soundfont"] == [TEST_SOUNDFONT, "FluidR3_GM.sf2"]
    with pytest.raises(ConfigError, match="distinct"):
        ClipRecipe(soundfont=(TEST_SOUNDFONT, TEST_SOUNDFONT))

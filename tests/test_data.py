"""NSynth-format rendering (library and CLI), range specs, the GM table, and NSynthDataset on rendered and
real-NSynth-layout data."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from spectrolab.audio import io
from spectrolab.audio.representations import LogMel
from spectrolab.cli import main as cli_main
from spectrolab.codec import load_codec
from spectrolab.data import nsynth_render
from spectrolab.data.gm import GM_TO_NSYNTH
from spectrolab.data.nsynth import NSYNTH_FAMILIES, NSYNTH_KEYS, NSynthDataset, read_examples, split_dir
from spectrolab.data.nsynth_render import (
    NSYNTH_PITCHES,
    RenderConfig,
    assign_splits,
    choose_notes,
    render_nsynth,
)
from spectrolab.data.ranges import parse_int_spec
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, is_silent, normalize_loudness
from spectrolab.errors import ConfigError, DataError, OutputExistsError, SpectrolabWarning
from spectrolab.training.prior import encode_dataset

# Piano, three guitars (one family of 3 -> one per split), finger bass, violin, oboe (TimGM6mb renders it silent
# below pitch 36), and the unmapped music box.
TINY = RenderConfig(
    soundfont=TEST_SOUNDFONT, programs=(0, 10, 24, 25, 26, 33, 40, 68), pitches=(21, 60, 96), velocities=(25, 127)
)


def test_render_warns_when_programs_are_too_few_for_valid_and_test(tmp_path, capsys):
    few = RenderConfig(soundfont=TEST_SOUNDFONT, programs=(0, 1, 24), pitches=(60,), velocities=(100,))
    with pytest.warns(SpectrolabWarning, match="valid and test will hold no notes.*guitar 1, keyboard 2"):
        render_nsynth(few, tmp_path / "few", workers=1)
    argv = ["data", "render", "--soundfont", TEST_SOUNDFONT, "--programs", "0,1", "--pitches", "60", "--quiet"]
    assert cli_main.main([*argv, "--velocities", "100", "--out", str(tmp_path / "cli")]) == 0
    assert "spectrolab data: warning: valid and test will hold no notes" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nsynth_render.warn_empty_splits(nsynth_render.assign_splits(TINY.mapped, seed=0))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("render") / "tiny"
    render_nsynth(TINY, out, workers=1)
    return out


def _all_examples(root: Path) -> dict[str, dict[str, dict]]:
    return {s: read_examples(split_dir(root, s)) for s in ("train", "valid", "test")}


# --- range specs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("40", (40,)),
        ("25,50,75", (25, 50, 75)),
        ("21:108", tuple(range(21, 109))),
        ("0:3,24, 2", (0, 1, 2, 3, 24)),
        ("21:45:12", (21, 33, 45)),
        (7, (7,)),
        ([5, 3, 5], (3, 5)),
    ],
)
def test_parse_int_spec(spec, expected):
    assert parse_int_spec(spec, name="--x", low=0, high=127) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty item"),
        ("1,,2", "empty item"),
        ("a", "'a' in 'a' is not an integer"),
        ("60:40", "is empty"),
        ("1:5:0", "must be positive"),
        ("1:2:3:4", "too many ':'"),
        ("100:130", "outside the allowed range 0-127"),
        ([], "empty"),
    ],
)
def test_parse_int_spec_errors(spec, message):
    with pytest.raises(ConfigError, match="--pitches") as err:
        parse_int_spec(spec, name="--pitches", low=0, high=127)
    assert message in str(err.value)


# --- soundfont renderer -----------------------------------------------------------------------------------------


def test_renderer_is_deterministic_float_and_silent_out_of_range(renderer):
    notes = (NoteSpec(0, 60, 100), NoteSpec(24, 52, 75))
    with NoteRenderer(TEST_SOUNDFONT) as a, NoteRenderer(TEST_SOUNDFONT) as b:
        first, second = ([r.render(n) for n in notes] for r in (a, b))
    assert all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))  # same sequence, same samples
    assert first[1].dtype == np.float32 and first[1].shape == (64000,)
    assert not np.allclose(first[1] * 32768, np.round(first[1] * 32768))  # float output, not 16-bit
    # A renderer's history only touches the first block (64 samples) of the next note.
    assert np.array_equal(renderer.render(notes[1])[64:], first[1][64:])
    silent = renderer.render(NoteSpec(68, 21, 127))  # TimGM6mb's oboe has no sample this low: exact zeros
    assert not silent.any() and is_silent(silent) and not is_silent(first[1])
    assert np.array_equal(normalize_loudness(silent), silent)


# --- GM table, splits, note choice -----------------------------------------------------------------------------


def test_gm_table_families_and_sources():
    families = Counter(i.family for i in GM_TO_NSYNTH.values())
    assert len(GM_TO_NSYNTH) == 86 and set(families) == set(NSYNTH_FAMILIES)
    assert families == {
        **{"bass": 8, "brass": 8, "flute": 8, "guitar": 9, "keyboard": 8, "mallet": 6, "organ": 5},
        **{"reed": 11, "string": 12, "synth_lead": 8, "vocal": 3},
    }
    known = {
        0: ("keyboard", "acoustic"),
        4: ("keyboard", "electronic"),
        12: ("mallet", "acoustic"),
        16: ("organ", "electronic"),
        24: ("guitar", "acoustic"),
        30: ("guitar", "electronic"),
        33: ("bass", "electronic"),
        38: ("bass", "synthetic"),
        40: ("string", "acoustic"),
        52: ("vocal", "acoustic"),
        56: ("brass", "acoustic"),
        65: ("reed", "acoustic"),
        73: ("flute", "acoustic"),
        81: ("synth_lead", "synthetic"),
    }
    assert {p: (GM_TO_NSYNTH[p].family, GM_TO_NSYNTH[p].source) for p in known} == known
    assert not {10, 47, 55, 88, 95, 100, 118, 127} & set(GM_TO_NSYNTH)


def test_assign_splits_disjoint_balanced_and_seeded():
    splits = assign_splits(GM_TO_NSYNTH, seed=0)
    assert set(splits) == set(GM_TO_NSYNTH) and set(splits.values()) == {"train", "valid", "test"}
    for family in NSYNTH_FAMILIES:
        counts = Counter(s for p, s in splits.items() if GM_TO_NSYNTH[p].family == family)
        n = sum(counts.values())
        held = max(1, round(0.1 * n))
        assert counts == {"train": n - 2 * held, "valid": held, "test": held}, family
    assert assign_splits(GM_TO_NSYNTH, seed=0) == splits
    assert assign_splits(GM_TO_NSYNTH, seed=1) != splits
    assert set(assign_splits([0, 1, 24, 25], seed=3).values()) == {"train"}  # families of 1-2 programs: train


def test_choose_notes_covers_every_pitch_first():
    rng = np.random.default_rng(0)
    pitches, velocities = tuple(range(21, 109)), (25, 50, 75, 100, 127)
    assert choose_notes(pitches, velocities, limit=None, rng=rng) == [(p, v) for p in pitches for v in velocities]
    once = choose_notes(pitches, velocities, limit=88, rng=rng)
    assert sorted(p for p, _ in once) == list(pitches)
    twice = choose_notes(pitches, velocities, limit=176 + 10, rng=rng)
    per_pitch = Counter(p for p, _ in twice)
    assert len(set(twice)) == 186 and set(per_pitch.values()) == {2, 3} and sum(per_pitch.values()) == 186
    assert choose_notes(pitches, velocities, limit=100, rng=np.random.default_rng(5)) == choose_notes(
        pitches, velocities, limit=100, rng=np.random.default_rng(5)
    )


def test_render_config_is_canonical():
    config = RenderConfig(programs=[40, 0, 40], pitches=(60, 21), velocities=(127, 25, 127))
    assert (config.programs, config.pitches, config.velocities) == ((0, 40), (21, 60), (25, 127))


def test_render_config_errors():
    with pytest.raises(ConfigError, match="none is mapped"):
        RenderConfig(programs=(10, 47))
    with pytest.raises(ConfigError, match="pitch=130"):
        RenderConfig(pitches=(60, 130))
    with pytest.raises(ConfigError, match="max_per_program"):
        RenderConfig(max_per_program=0)


# --- rendering --------------------------------------------------------------------------------------------------


def test_render_layout_keys_and_labels(tiny):
    examples = _all_examples(tiny)
    manifest = json.loads((tiny / "render.json").read_text())
    programs = {s: {e["instrument"] for e in ex.values()} for s, ex in examples.items()}
    assert programs == {"train": {0, 24, 33, 40, 68}, "valid": {25}, "test": {26}}  # disjoint by program
    assert manifest["splits"] == {s: sorted(p) for s, p in programs.items()}
    assert manifest["skipped_programs"] == [10]
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in [tiny, *tiny.rglob("*")][:20])  # readable by others
    # Oboe at pitch 21 is silent in TimGM6mb: 2 notes dropped out of 7 programs x 3 pitches x 2 velocities.
    assert manifest["silent_dropped"] == 2 and sum(len(e) for e in examples.values()) == 40
    for split, split_examples in examples.items():
        audio = {p.stem for p in (split_dir(tiny, split) / "audio").glob("*.wav")}
        assert audio == set(split_examples)
        for note_str, example in split_examples.items():
            assert set(example) == NSYNTH_KEYS
            instrument = GM_TO_NSYNTH[example["instrument"]]
            assert example["instrument_str"] == f"{instrument.family}_{instrument.source}_{instrument.program:03d}"
            pitch, velocity = example["pitch"], example["velocity"]
            assert note_str == example["note_str"] == f"{example['instrument_str']}-{pitch:03d}-{velocity:03d}"
            assert (
                NSYNTH_FAMILIES[example["instrument_family"]] == example["instrument_family_str"] == instrument.family
            )
            assert example["sample_rate"] == 16000 and len(example["qualities"]) == 10
    assert examples["train"]["keyboard_acoustic_000-060-127"]["instrument_family_str"] == "keyboard"
    assert examples["train"]["bass_electronic_033-021-025"]["instrument_source_str"] == "electronic"
    assert "reed_acoustic_068-021-025" not in examples["train"]


def test_render_audio_length_and_loudness(tiny):
    for path in sorted((split_dir(tiny, "train") / "audio").glob("*.wav"))[:8]:
        meta = io.info(path)
        assert (meta.sample_rate, meta.channels, meta.frames) == (16000, 1, 64000)
        assert float(io.load(path).abs().max()) == pytest.approx(0.9, abs=1e-4)
    quiet = io.load(split_dir(tiny, "train") / "audio" / "keyboard_acoustic_000-060-025.wav")
    loud = io.load(split_dir(tiny, "train") / "audio" / "keyboard_acoustic_000-060-127.wav")
    assert float(quiet.abs().max()) == pytest.approx(float(loud.abs().max()), abs=1e-4)
    assert float(quiet[:, -1000:].abs().max()) < 0.05  # the release has decayed by the end of the note


def test_render_is_deterministic_whatever_the_workers(tiny, tmp_path):
    render_nsynth(TINY, tmp_path / "again", workers=2)
    assert _tree_bytes(tmp_path / "again") == _tree_bytes(tiny)
    other = RenderConfig(**{**TINY.__dict__, "seed": 4})
    render_nsynth(other, tmp_path / "seed4", workers=1)
    assert _tree_bytes(tmp_path / "seed4") != _tree_bytes(tiny)


def test_render_max_per_program_covers_playable_pitches(tmp_path):
    config = RenderConfig(
        soundfont=TEST_SOUNDFONT, programs=(0, 68), pitches=(21, 60, 96), velocities=(25, 75, 127), max_per_program=4
    )
    report = render_nsynth(config, tmp_path / "sub", workers=1)
    examples = read_examples(split_dir(tmp_path / "sub", "train"))
    pitches = {p: Counter(e["pitch"] for e in examples.values() if e["instrument"] == p) for p in (0, 68)}
    assert sorted(pitches[0].values()) == [1, 1, 2] and set(pitches[0]) == {21, 60, 96}
    assert pitches[68] == {60: 2, 96: 2}  # the silent pitch 21 is never chosen
    assert report.silent_dropped == 0 and report.total == 8


def test_render_refuses_existing_output_and_replaces_with_force(tiny, tmp_path):
    with pytest.raises(OutputExistsError, match="--force"):
        render_nsynth(TINY, tiny, workers=1)
    target = tmp_path / "out"
    (target / "stale").mkdir(parents=True)
    render_nsynth(
        RenderConfig(soundfont=TEST_SOUNDFONT, programs=(0,), pitches=(60,), velocities=(100,)), target, force=True
    )
    assert not (target / "stale").exists() and len(read_examples(split_dir(target, "train"))) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folders left behind


# --- CLI ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def cli():
    return cli_main.main


def test_cli_render_info_and_force(cli, tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["data", "render", "--soundfont", TEST_SOUNDFONT, "--out", str(out), "--programs", "0,10,24:26,33,40,68"]
    args += ["--pitches", "21,60,96", "--velocities", "25,127", "--workers", "2", "--quiet"]
    assert cli(args) == 0
    assert "wrote 40 notes (train 28, valid 6, test 6)" in capsys.readouterr().out
    assert _tree_bytes(out) == _tree_bytes(tiny)
    assert cli(args) == 2
    assert "exists already; pass --force" in capsys.readouterr().err
    assert cli([*args, "--force"]) == 0
    assert cli(["data", "info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "guitar" in printed and "total             28       6       6" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "--out", "X", "--pitches", "60:20"], "--pitches: range '60:20'"),
        (["render", "--out", "X", "--velocities", "0"], "--velocities: [0] outside the allowed range 1-127"),
        (["render", "--out", "X", "--soundfont", "nope.sf2"], "soundfont 'nope.sf2' not found"),
        (["info", "MISSING"], "MISSING: no such dataset folder"),
    ],
)
def test_cli_errors(cli, tmp_path, capsys, args, message):
    args = [str(tmp_path / a) if a in ("X", "MISSING") else a for a in args]
    assert cli(["data", *args]) == 2
    assert message.replace("MISSING", str(tmp_path / "MISSING")) in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- dataset -----------------------------------------------------------------------------------------------------


def test_dataset_waveforms_and_fields(tiny):
    data = NSynthDataset(tiny, "train", fields=("instrument_family", "pitch", "instrument_str"))
    assert len(data) == 28
    item = data[0]
    assert item["input"].shape == (64000,) and item["input"].dtype == torch.float32
    example = read_examples(split_dir(tiny, "train"))[item["note_str"]]
    assert item["instrument_family"].item() == example["instrument_family"] and item["pitch"].item() == example["pitch"]
    assert item["instrument_str"] == example["instrument_str"]
    assert torch.equal(item["input"], io.load(data.audio_path(0))[0])


def test_dataset_representation_batches(tiny):
    logmel = LogMel()
    data = NSynthDataset(tiny / "nsynth-train", representation=logmel)
    batch = next(iter(DataLoader(data, batch_size=4)))
    assert batch["input"].shape == (4, 1, 96, 251) and batch["instrument_family"].shape == (4,)
    waves = torch.stack([io.load(data.audio_path(i))[0] for i in range(4)])
    torch.testing.assert_close(batch["input"], logmel(waves), rtol=1e-4, atol=1e-4)


def test_dataset_filters_and_label_maps(tiny):
    guitars = NSynthDataset(tiny, "train", filters={"instrument_family_str": {"guitar"}})
    assert len(guitars) == 6 and guitars.values("instrument_family") == [3]
    with pytest.raises(ConfigError, match="'instrument' is not one of this dataset's fields"):
        guitars.values("instrument")
    strings = NSynthDataset(
        tiny, "train", fields=("velocity",), filters={"instrument_family_str": {"bass", "string"}, "velocity": {127}}
    )
    assert len(strings) == 6 and strings.values("velocity") == [127]
    labels = {0: 0, 40: 1}
    mapped = NSynthDataset(tiny, "train", fields=("instrument",), label_maps={"instrument": labels})
    assert len(mapped) == 12 and sorted({mapped[i]["instrument"].item() for i in range(len(mapped))}) == [0, 1]


def test_dataset_errors(tiny, tmp_path):
    with pytest.raises(DataError, match="no such dataset folder"):
        NSynthDataset(tmp_path / "none", "train")
    with pytest.raises(ConfigError, match="split 'dev'"):
        NSynthDataset(tiny, "dev")
    with pytest.raises(ConfigError, match="'family' is not an NSynth example key"):
        NSynthDataset(tiny, "train", fields=("family",))
    bad = tmp_path / "nsynth-train"
    bad.mkdir()
    (bad / "examples.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        NSynthDataset(tmp_path, "train")
    (bad / "examples.json").write_text(json.dumps({"a-060-100": {"pitch": 60}}))
    with pytest.raises(DataError, match="lacks NSynth keys"):
        NSynthDataset(tmp_path, "train")


def test_dataset_reads_real_nsynth_layout(tmp_path, notes):
    """Two notes written the way the real NSynth's nsynth-valid/examples.json writes them."""
    real = {
        "bass_synthetic_033-022-050": {
            "qualities": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            "pitch": 22,
            "note": 201034,
            "instrument_source_str": "synthetic",
            "velocity": 50,
            "instrument_str": "bass_synthetic_033",
            "instrument": 417,
            "sample_rate": 16000,
            "qualities_str": ["dark"],
            "instrument_source": 2,
            "note_str": "bass_synthetic_033-022-050",
            "instrument_family": 0,
            "instrument_family_str": "bass",
        },
        "guitar_acoustic_010-060-100": {
            "qualities": [1, 0, 0, 0, 0, 0, 0, 1, 0, 0],
            "pitch": 60,
            "note": 8863,
            "instrument_source_str": "acoustic",
            "velocity": 100,
            "instrument_str": "guitar_acoustic_010",
            "instrument": 86,
            "sample_rate": 16000,
            "qualities_str": ["bright", "percussive"],
            "instrument_source": 0,
            "note_str": "guitar_acoustic_010-060-100",
            "instrument_family": 3,
            "instrument_family_str": "guitar",
        },
    }
    folder = tmp_path / "nsynth-valid"
    (folder / "audio").mkdir(parents=True)
    (folder / "examples.json").write_text(json.dumps(real))
    for wave, note_str in zip(notes, sorted(real), strict=False):
        io.save(folder / "audio" / f"{note_str}.wav", wave, sample_rate=16000)
    data = NSynthDataset(tmp_path, "valid", fields=("instrument_family", "instrument_source_str", "qualities"))
    assert len(data) == 2 and len(NSynthDataset(folder)) == 2
    item = data[1]
    assert item["note_str"] == "guitar_acoustic_010-060-100" and item["instrument_family"].item() == 3
    assert item["instrument_source_str"] == "acoustic"
    assert item["qualities"].tolist() == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    torch.testing.assert_close(item["input"], notes[1], atol=1 / 32768, rtol=0)
    assert data[0]["input"].shape == (64000,)


def test_default_config_is_nsynth():
    config = RenderConfig()
    assert config.pitches == NSYNTH_PITCHES == tuple(range(21, 109)) and config.velocities == (25, 50, 75, 100, 127)
    assert (config.sample_rate, config.duration, config.hold) == (16000, 4.0, 3.0)
    assert config.mapped == tuple(sorted(GM_TO_NSYNTH)) and config.skipped == ()


@pytest.mark.parametrize(
    "note_str", ["keyboard_acoustic_000-060-127", "bass_electronic_033-060-025", "string_acoustic_040-096-127"]
)
def test_rendered_pitch_matches_label(tiny, note_str):
    """YIN's median f0 over the held part is within 0.3 semitone of the labelled MIDI pitch."""
    wave = io.load(split_dir(tiny, "train") / "audio" / f"{note_str}.wav")[0, :32000].numpy()
    f0 = float(np.median(librosa.yin(wave, fmin=50, fmax=4000, sr=16000, frame_length=2048)))
    pitch = int(note_str.split("-")[1])
    assert 12 * np.log2(f0 / 440.0) + 69 == pytest.approx(pitch, abs=0.3)


def test_failed_render_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(task):
        raise RuntimeError("synthesiser crashed")

    monkeypatch.setattr(nsynth_render, "_render_program", fail)
    with pytest.raises(RuntimeError, match="crashed"):
        render_nsynth(TINY, tmp_path / "out", workers=1)
    assert list(tmp_path.iterdir()) == []


def test_data_subcommand_is_registered():
    assert "spectrolab.cli.data" in cli_main.SUBCOMMANDS


def test_data_merge_links_every_library_under_its_own_name(tmp_path, capsys):
    from spectrolab.cli.main import main
    from spectrolab.data.merge import merge_nsynth

    for name in ("a", "b"):
        config = RenderConfig(soundfont=TEST_SOUNDFONT, programs=(0, 1, 2, 24, 25, 26, 40, 41, 42), pitches=(60,),
                              velocities=(100,))  # fmt: skip
        render_nsynth(config, tmp_path / name)
    counts = merge_nsynth([tmp_path / "a", tmp_path / "b"], tmp_path / "m", names=["x", "y"])
    single = {s: len(NSynthDataset(tmp_path / "a", s)) for s in ("train", "valid", "test")}
    assert counts == {s: 2 * n for s, n in single.items()}
    merged = NSynthDataset(tmp_path / "m", "train", fields=("instrument_family",))
    names = {e["note_str"].split("-", 1)[0] for e in merged.examples}
    assert names == {"x", "y"} and len(merged) == counts["train"]
    assert torch.equal(merged[0]["input"], NSynthDataset(tmp_path / "a", "train")[0]["input"])
    assert main(["data", "merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["data", "merge", str(tmp_path / "a"), str(tmp_path / "a"), "--out", str(tmp_path / "n")]) == 2
    assert "distinct names" in capsys.readouterr().err and not (tmp_path / "n").exists()


def test_data_merge_valid_every_trains_on_valid_programs_and_keeps_test_out(tmp_path):
    from spectrolab.data.merge import merge_nsynth

    for name in ("a", "b"):
        config = RenderConfig(soundfont=TEST_SOUNDFONT, programs=(0, 1, 2, 24, 25, 26, 40, 41, 42), pitches=(60, 64),
                              velocities=(100,))  # fmt: skip
        render_nsynth(config, tmp_path / name)
    plain = merge_nsynth([tmp_path / "a", tmp_path / "b"], tmp_path / "m", names=["x", "y"])
    folded = merge_nsynth([tmp_path / "a", tmp_path / "b"], tmp_path / "f", names=["x", "y"], valid_every=3)
    pool = sorted(
        e["note_str"] for s in ("train", "valid") for e in NSynthDataset(tmp_path / "m", s).examples
    )  # fmt: skip
    valid = NSynthDataset(tmp_path / "f", "valid")
    train = NSynthDataset(tmp_path / "f", "train")
    assert sorted(e["note_str"] for e in valid.examples) == pool[::3]
    assert sorted(e["note_str"] for e in train.examples + valid.examples) == pool
    assert folded["test"] == plain["test"] and folded["train"] + folded["valid"] == plain["train"] + plain["valid"]

    def programs(root, split):
        return {e["instrument"] for e in read_examples(split_dir(root, split)).values()}

    assert programs(tmp_path / "f", "test").isdisjoint(programs(tmp_path / "f", "train"))
    assert programs(tmp_path / "m", "valid") <= programs(tmp_path / "f", "train")
    for split, dataset in (("valid", valid), ("train", train)):
        for example in dataset.examples[:3]:
            key = example["note_str"]
            link = tmp_path / "f" / f"nsynth-{split}" / "audio" / f"{key}.wav"
            plain_links = [tmp_path / "m" / f"nsynth-{s}" / "audio" / f"{key}.wav" for s in ("train", "valid")]
            assert link.resolve() in {p.resolve() for p in plain_links if p.exists()}
    with pytest.raises(ConfigError, match="valid_every"):
        merge_nsynth([tmp_path / "a", tmp_path / "b"], tmp_path / "g", names=["x", "y"], valid_every=1)


def test_encode_dataset_equals_encoding_each_note_and_keeps_the_labels(tiny):
    codec = load_codec()
    dataset = NSynthDataset(tiny, "train", fields=("pitch", "instrument_family"))
    chosen = [5, 0, 3, 1, 4]
    encoded = encode_dataset(dataset, codec, batch_size=2, indices=chosen)  # batches of 2, 2 and 1
    for row, index in enumerate(chosen):
        item = dataset[index]
        with torch.inference_mode():  # as encode_dataset runs (bfloat16 where the CPU has it)
            alone = codec.encode(item["input"]).grids[0][0]
        assert torch.equal(encoded.grids[row], alone)
        assert (encoded.pitch[row], encoded.family[row]) == (item["pitch"], item["instrument_family"])
    assert encoded.grids.shape == (len(chosen), *codec.encode(dataset[0]["input"]).grids[0].shape[1:])
    with pytest.raises(ConfigError, match="no notes to encode"):
        encode_dataset(dataset, codec, indices=[])


def test_data_roundtrip_writes_each_kept_note_as_the_codec_decodes_it(tiny, tmp_path, capsys):
    from spectrolab.data.roundtrip import ROUNDTRIP_MANIFEST

    codec = load_codec()
    out = tmp_path / "rt"
    argv = ["data", "roundtrip", str(tiny), "--out", str(out), "--every", "3", "--quiet"]
    assert cli_main.main(argv) == 0
    assert "round trips (train" in capsys.readouterr().out
    manifest = json.loads((out / ROUNDTRIP_MANIFEST).read_text())
    assert manifest["sha256"] == codec.weights_sha256 and manifest["every"] == 3
    from spectrolab.data.tracks import dataset_recipe

    assert dataset_recipe(out) == {**manifest, "source_recipe": dataset_recipe(tiny)} and dataset_recipe(tiny)
    for split in ("train", "valid", "test"):
        source = read_examples(split_dir(tiny, split))
        kept = read_examples(split_dir(out, split))
        assert sorted(kept) == sorted(source)[::3] and manifest["notes"][split] == len(kept)
        for name, example in kept.items():
            assert example["roundtrip"]["sha256"] == codec.weights_sha256
            assert {k: v for k, v in example.items() if k != "roundtrip"} == source[name]
    name = sorted(read_examples(split_dir(out, "train")))[1]
    wave = io.load(split_dir(tiny, "train") / "audio" / f"{name}.wav", sample_rate=codec.sample_rate)
    with torch.inference_mode():
        alone = codec.decode(codec.encode(wave))[0]
    written = io.load(split_dir(out, "train") / "audio" / f"{name}.wav", sample_rate=codec.sample_rate)[0]
    assert written.shape == alone.shape
    # Decoded in a batch of up to 16 and stored as 16-bit PCM: equal to the note decoded alone within bf16's
    # rounding and one PCM step, far below the signal (the codec's error itself is dB-sized).
    assert torch.sqrt(torch.mean((written - alone) ** 2)) < 1e-2 * torch.sqrt(torch.mean(alone**2))
    assert cli_main.main(argv) == 2 and "--force" in capsys.readouterr().err

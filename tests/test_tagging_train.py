"""Tagging training/evaluation: chunking, aggregation and metrics against hand values and scikit-learn,
Lightning training with resume, DDP on two CPU processes, and the train/eval/tag command line."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import FIXTURE_NOTES
from sklearn.metrics import accuracy_score, average_precision_score, confusion_matrix, roc_auc_score
from torch import nn

from spectrolab.audio import io
from spectrolab.audio.io import save
from spectrolab.cli import tagging as tagging_cli
from spectrolab.cli.main import main
from spectrolab.codec import load_codec
from spectrolab.data.chunking import evenly_spaced_chunks, evenly_spaced_starts, random_chunk, tiling_chunks
from spectrolab.data.clips import LABELS, ClipRecipe, render_clips
from spectrolab.data.gm import GM_TO_NSYNTH
from spectrolab.data.nsynth import NSYNTH_FAMILIES
from spectrolab.data.nsynth_render import nsynth_example
from spectrolab.data.tracks import load_tracks
from spectrolab.errors import ConfigError, OutputExistsError
from spectrolab.models import create_model, register_model, save_model_dir
from spectrolab.models.precision import native_bfloat16
from spectrolab.paths import SHIPPED_TAGGERS
from spectrolab.tag.aggregate import aggregate, aggregate_segments
from spectrolab.tag.evaluate import evaluate_tagger
from spectrolab.tag.metrics import accuracy, multilabel_scores, single_label_scores
from spectrolab.tag.predict import DEFAULT_TAGGER, load_tagger, predict_files
from spectrolab.training.logs import csv_history_kept
from spectrolab.training.tagging import TaggerModule, TrainConfig, tagger_warm_start, train_tagger


class TinyTagger(nn.Module):
    """A few hundred parameters: strided conv on the waveform, mean pool, linear head."""

    def __init__(self, num_classes: int = 2, input_length: int = 4000) -> None:
        super().__init__()
        self.sample_rate, self.input_length, self.num_classes = 16000, input_length, num_classes
        self.conv = nn.Conv1d(1, 4, kernel_size=64, stride=32)
        self.head = nn.Linear(4, num_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(wave[:, None])).mean(-1))


register_model("test/tiny-tagger", task="tagging")(TinyTagger)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    recipe = ClipRecipe(
        soundfont="TimGM6mb.sf2", counts={"train": 6, "valid": 4, "test": 4}, min_duration=1.0, max_duration=2.0
    )
    return render_clips(tmp_path_factory.mktemp("clips"), recipe)


def test_evenly_spaced_chunks_follow_the_literature():
    # 30 s at 16 kHz, 59049-sample chunks, 16 of them: hop (480000 - 59049) // 16 = 26309.
    assert evenly_spaced_starts(480000, 59049, 16)[:3] == [0, 26309, 52618]
    wave = torch.arange(480000, dtype=torch.float32)
    chunks = evenly_spaced_chunks(wave, 59049, 16)
    assert chunks.shape == (16, 59049)
    assert chunks[5, 0] == 5 * 26309 and chunks[15, -1] == 15 * 26309 + 59048


def test_tiling_chunks_do_not_overlap_and_pad_the_last_one_and_short_tracks():
    wave = torch.arange(10, dtype=torch.float32)
    assert torch.equal(tiling_chunks(wave, 4), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 0]]))
    assert torch.equal(tiling_chunks(wave[:8], 4), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))
    assert torch.equal(tiling_chunks(wave[:3], 4), torch.tensor([[0.0, 1, 2, 0]]))
    chunk = random_chunk(wave, 4, generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (4,) and torch.equal(chunk, torch.arange(chunk[0], chunk[0] + 4))
    with pytest.raises(ConfigError):
        tiling_chunks(wave, 0)


def test_aggregations_by_hand():
    logits = torch.tensor([[0.0, 2.0], [2.0, -2.0], [-2.0, 1.0]])
    sig = torch.sigmoid(logits)
    assert torch.allclose(aggregate(logits, how="mean"), sig.mean(0))
    assert torch.allclose(aggregate(logits, how="max"), sig.amax(0))
    assert torch.allclose(aggregate(logits, how="vote"), torch.tensor([1 / 3, 2 / 3]))  # sigmoid(0) = 0.5 is no vote
    assert torch.allclose(aggregate(logits, how="vote", multilabel=False), torch.tensor([1 / 3, 2 / 3]))
    assert torch.allclose(aggregate(logits, how="mean", multilabel=False), torch.softmax(logits, -1).mean(0))
    both = aggregate_segments(torch.cat([logits, logits[:1]]), [3, 1], how="max")
    assert torch.allclose(both, torch.stack([sig.amax(0), sig[0]]))
    with pytest.raises(ConfigError):
        aggregate(logits, how="median")  # type: ignore[arg-type]


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    targets = (rng.random((40, 6)) < 0.4).astype(np.float32)
    scores = np.clip(targets * 0.3 + rng.random((40, 6)) * 0.7, 0, 1).astype(np.float32)
    result = multilabel_scores(torch.from_numpy(scores), torch.from_numpy(targets), labels=list("uvwxyz"))
    assert result.roc_auc == pytest.approx(roc_auc_score(targets, scores, average="macro"), abs=1e-6)
    assert result.pr_auc == pytest.approx(average_precision_score(targets, scores, average="macro"), abs=1e-6)
    assert result.per_label_roc_auc is not None and list(result.per_label_roc_auc) == list("uvwxyz")
    for i, label in enumerate("uvwxyz"):
        assert result.per_label_roc_auc[label] == pytest.approx(roc_auc_score(targets[:, i], scores[:, i]), abs=1e-6)
    labels = rng.integers(0, 5, 50)
    probs = rng.random((50, 5)).astype(np.float32)
    acc = accuracy(torch.from_numpy(probs), torch.from_numpy(labels), labels=list("abcde"))
    assert acc.accuracy == pytest.approx(accuracy_score(labels, probs.argmax(1)))
    assert acc.confusion == confusion_matrix(labels, probs.argmax(1), labels=range(5)).tolist()
    per_class = acc.per_class_accuracy()
    assert per_class["c"] == pytest.approx(((labels == 2) & (probs.argmax(1) == 2)).sum() / (labels == 2).sum())
    assert acc.confusion_table().splitlines()[0].startswith("true / predicted") and "accuracy" in acc.confusion_table()
    both = single_label_scores(torch.from_numpy(probs), torch.from_numpy(labels), labels=list("abcde"))
    one_hot = np.eye(5)[labels]
    assert both.accuracy == acc.accuracy and both.confusion == acc.confusion
    assert both.roc_auc == pytest.approx(roc_auc_score(one_hot, probs, average="macro"), abs=1e-6)
    assert both.pr_auc == pytest.approx(average_precision_score(one_hot, probs, average="macro"), abs=1e-6)


def test_metrics_leave_out_classes_without_positives():
    rng = np.random.default_rng(1)
    targets = (rng.random((30, 4)) < 0.5).astype(np.float32)
    targets[:, 2] = 0
    scores = rng.random((30, 4)).astype(np.float32)
    kept = [0, 1, 3]
    result = multilabel_scores(torch.from_numpy(scores), torch.from_numpy(targets), labels=list("abcd"))
    assert result.roc_auc == pytest.approx(roc_auc_score(targets[:, kept], scores[:, kept]), abs=1e-6)
    assert result.per_label_roc_auc is not None and list(result.per_label_roc_auc) == ["a", "b", "d"]


def _config(clips, out, **kw):
    base = dict(model="test/tiny-tagger", data=str(clips), out=str(out), batch_size=2, max_epochs=1, progress=False)
    return TrainConfig(**{**base, **kw})


def test_train_resume_export_and_evaluate(clips, tmp_path):
    result = train_tagger(_config(clips, tmp_path / "run", max_epochs=2))
    assert result.steps == 6  # 6 train clips, batch 2, 2 epochs
    tagger = load_tagger(result.model_dir)
    valid = load_tracks(clips, "valid")
    assert tagger.labels == valid.labels and tagger.multilabel
    config = json.loads((result.model_dir / "config.json").read_text())
    assert config["metadata"]["train"]["seed"] == 0 and config["metadata"]["data_recipe"]["soundfont"] == "TimGM6mb.sf2"
    # The exported best model evaluated without Lightning gives the score Lightning logged for it.
    scores = evaluate_tagger(tagger, valid)
    assert scores.roc_auc == pytest.approx(result.best_score, abs=1e-5)
    with pytest.raises(OutputExistsError):
        train_tagger(_config(clips, tmp_path / "run"))
    resumed = train_tagger(
        _config(clips, tmp_path / "run", max_epochs=3, resume=str(tmp_path / "run/checkpoints/last.ckpt"))
    )
    assert resumed.steps == 9
    energy = json.loads((resumed.model_dir / "config.json").read_text())["metadata"]["training_energy"]
    assert energy["sessions"] == 2 and energy["method"].startswith("estimated (CPU-seconds")
    assert 0 < energy["joules"][0] <= energy["joules"][1] and energy["co2e_grams"][1] > 0
    with open(tmp_path / "run/logs/metrics.csv") as fh:  # the rows logged before the resume are kept
        rows = [r for r in csv.DictReader(fh) if r.get("val/tracks")]
    assert [int(r["step"]) for r in rows] == [2, 5, 8]
    # One best checkpoint, the run's true best, also after resuming a run that has finished.
    again = train_tagger(
        _config(clips, tmp_path / "run", max_epochs=3, resume=str(tmp_path / "run/checkpoints/last.ckpt"))
    )
    for run in (resumed, again):
        assert (
            run.best_score == pytest.approx(max(float(r["val/roc_auc"]) for r in rows)) and run.metric == "val/roc_auc"
        )
    assert [p.name for p in (tmp_path / "run/checkpoints").glob("best-*.ckpt")] == [again.best_checkpoint.name]
    with pytest.raises(ConfigError, match="no such checkpoint"):
        train_tagger(_config(clips, tmp_path / "run", max_epochs=4, resume=str(tmp_path / "run/missing.ckpt")))
    (tmp_path / "run/bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match=r"pickle|zip|file"):  # a resume that fails inside fit (Lightning empties
        train_tagger(_config(clips, tmp_path / "run", max_epochs=4, resume=str(tmp_path / "run/bad.ckpt")))  # the log)
    with open(tmp_path / "run/logs/metrics.csv") as fh:  # ... leaves the log as it was
        assert [int(r["step"]) for r in csv.DictReader(fh) if r.get("val/tracks")] == [2, 5, 8]


def test_validation_every_n_steps_across_epochs(clips, tmp_path):
    config = _config(clips, tmp_path / "steps", max_epochs=3, val_every_steps=2, lr_schedule="cosine", max_steps=9)
    result = train_tagger(config)
    with open(tmp_path / "steps/logs/metrics.csv") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh) if r.get("val/tracks")]
    assert result.steps == 9  # 6 clips in batches of 2, three epochs
    assert steps == [1, 3, 5, 7]  # after the 2nd, 4th, 6th and 8th steps (logged 0-based)


def test_cosine_learning_rate_schedule_decays_to_its_floor_over_the_step_budget():
    with pytest.raises(ConfigError, match="step budget"):
        TaggerModule("musicnn", labels=["a", "b"], multilabel=False, lr_schedule="cosine")
    module = TaggerModule("musicnn", labels=["a", "b"], multilabel=False, lr_schedule="cosine", max_steps=10,
                          learning_rate=0.01)  # fmt: skip
    configured = module.configure_optimizers()
    optimizer, schedule = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    assert configured["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    expected = [0.01 * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(s / 10, 1.0)))) for s in range(12)]
    assert rates == pytest.approx(expected, rel=1e-12)
    assert rates[0] == 0.01 and rates[5] == pytest.approx(0.00525) and rates[11] == pytest.approx(0.0005)


def test_ddp_on_two_cpu_processes(clips, tmp_path):
    result = train_tagger(_config(clips, tmp_path / "ddp", devices=2, strategy="ddp_fork", max_epochs=2))
    with open(tmp_path / "ddp/logs/metrics.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("val/tracks")]
    # Each process trains on 3 of the 6 clips (one batch of 2 per epoch); validation gathers the song scores
    # of both halves of the 4 valid clips.
    assert (result.model_dir / "model.safetensors").is_file()
    assert [(int(r["epoch"]), int(r["step"]), float(r["val/tracks"])) for r in rows] == [(0, 0, 4.0), (1, 1, 4.0)]


def test_command_line_ddp_strategy_launches_two_processes(clips, tmp_path):
    """``--strategy ddp`` (not fork): Lightning re-runs ``python -m spectrolab`` for the second process."""
    out = tmp_path / "ddp-cli"
    argv = ["train", "tagger", "--model", "musicnn", "--model-arg", "input_length=16000", "--data", str(clips)]
    argv += ["--out", str(out), "--max-epochs", "2", "--batch-size", "3", "--devices", "2", "--strategy", "ddp"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "spectrolab", *argv, "--quiet"], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("best validation roc_auc") == 1  # printed by rank 0 only
    with open(out / "logs/metrics.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("val/tracks")]
    # 6 training clips, 3 per process: one step per epoch; validation gathers both halves of the 4 clips.
    assert [(int(r["epoch"]), int(r["step"]), float(r["val/tracks"])) for r in rows] == [(0, 0, 4.0), (1, 1, 4.0)]
    assert load_tagger(out / "model").labels == list(LABELS)


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    tagging_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.run(args)


def test_command_line_train_eval_tag(clips, tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        _cli(
            "train",
            "tagger",
            "--model",
            "test/tiny-tagger",
            "--data",
            str(clips),
            "--out",
            str(out),
            "--max-epochs",
            "1",
            "--batch-size",
            "3",
            "--quiet",
            "--model-arg",
            "input_length=8000",
        )
        == 0
    )
    assert json.loads((out / "model/config.json").read_text())["args"]["input_length"] == 8000
    assert _cli("eval", "tagger", str(out / "model"), "--data", str(clips), "--json", str(tmp_path / "e.json")) == 0
    assert _cli("eval", "tagger", str(out), "--data", str(clips)) == 0  # the run folder: its exported model
    ckpt = next((out / "checkpoints").glob("best-*.ckpt"))
    assert _cli("eval", "tagger", str(ckpt), "--data", str(clips), "--aggregation", "max") == 0
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["tracks"] == 4 and 0 <= report["roc_auc"] <= 1
    per_tag = report["per_label_roc_auc"]  # the tags with positives and negatives among the 4 clips
    assert set(per_tag) <= set(LABELS) and np.mean(list(per_tag.values())) == pytest.approx(report["roc_auc"], abs=1e-6)
    wav = clips / "test" / "00000.wav"
    assert (
        _cli(
            "tag",
            str(wav),
            "--model",
            str(out / "model"),
            "--json",
            str(tmp_path / "t.json"),
            "--taggram",
            str(tmp_path / "png"),
            "--top",
            "3",
        )
        == 0
    )
    printed = capsys.readouterr().out
    tags = json.loads((tmp_path / "t.json").read_text())[0]
    best = max(tags["scores"], key=tags["scores"].get)
    assert best in printed.splitlines()[-1]
    assert (tmp_path / "png/00000.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(OutputExistsError):
        _cli("tag", str(wav), "--model", str(out / "model"), "--json", str(tmp_path / "t.json"))
    two = [str(wav), str(clips / "test" / "00001.wav")]
    assert _cli("tag", *two, "--model", str(out / "model"), "--energy", "--energy-seconds", "0.1") == 0
    printed = capsys.readouterr().out
    assert "energy per song (2 per call): " in printed and "carbon per song: " in printed and "estimated" in printed


def test_command_line_training_is_quiet_and_names_its_metric(clips, tmp_path, capfd):
    argv = ["train", "tagger", "--model", "test/tiny-tagger", "--data", str(clips), "--out", str(tmp_path / "q")]
    assert main([*argv, "--max-epochs", "1", "--batch-size", "3", "--quiet"]) == 0
    out, err = capfd.readouterr()
    assert out.startswith("best validation roc_auc 0.") and len(out.splitlines()) == 2
    assert "Seed set" not in out + err and "GPU available" not in out + err and "Warning" not in err
    assert main([*argv, "--max-steps", "0", "--force"]) == 2
    assert capfd.readouterr().err.strip().endswith("0 would export an untrained model")
    assert main([*argv, "--devices", "0", "--force"]) == 2
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "devices=0" in err


def test_predict_files_batched_equals_one_by_one(clips, tmp_path):
    result = train_tagger(_config(clips, tmp_path / "p", max_steps=1))
    tagger = load_tagger(result.model_dir)
    files = sorted((clips / "test").glob("*.wav"))
    together = predict_files(tagger, files, batch_size=3)
    for f, p in zip(files, together, strict=True):
        alone = predict_files(tagger, [f], batch_size=1)[0]
        assert torch.allclose(p.scores, alone.scores, atol=1e-6)
        assert p.chunk_scores.shape[0] == -(-sf.info(str(f)).frames // tagger.input_length)  # the last one padded


def test_tagging_covers_the_last_chunk_refuses_a_blip_and_reports_silence(tmp_path, notes, capsys):
    model = create_model("test/tiny-tagger", num_classes=2, input_length=48000)  # 3 s chunks
    save_model_dir(model, tmp_path / "tagger", metadata={"labels": ["a", "b"], "multilabel": True})
    note = save(tmp_path / "note.wav", notes[0], sample_rate=16000)  # 4 s: a 3 s chunk and a padded 1 s
    silent = save(tmp_path / "silent.wav", torch.zeros(64000), sample_rate=16000)
    blip = save(tmp_path / "blip.wav", notes[0, :16], sample_rate=16000)  # 1 ms
    (prediction, quiet) = predict_files(load_tagger(tmp_path / "tagger"), [note, silent])
    assert prediction.chunk_scores.shape == (2, 2) and prediction.seconds == 4.0 and not prediction.silent
    assert quiet.silent and quiet.top() == [] and quiet.to_dict()["silent"]
    argv = ["tag", "--model", str(tmp_path / "tagger"), "--taggram", str(tmp_path / "png")]
    assert main([*argv, str(note), str(silent)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{note}: ") and out[1] == f"{silent}: silent (peak below -80 dBFS), not tagged"
    assert main([*argv, str(blip)]) == 2
    assert "0.001 s of audio is too short to tag" in capsys.readouterr().err
    assert main([*argv, str(note), "--top", "0", "--force"]) == 2
    assert "--top 0" in capsys.readouterr().err


def _nsynth_fixture(root, notes) -> None:
    """An NSynth-format dataset of the five fixture notes in every split (programs 0, 24, 40, 56, 73)."""
    for split in ("train", "valid", "test"):
        folder = root / f"nsynth-{split}"
        examples = {}
        for wave, spec in zip(notes, FIXTURE_NOTES, strict=True):
            example = nsynth_example(
                GM_TO_NSYNTH[spec.program], pitch=spec.pitch, velocity=spec.velocity, sample_rate=16000
            )
            examples[example["note_str"]] = example
            save(folder / "audio" / f"{example['note_str']}.wav", wave, sample_rate=16000)
        (folder / "examples.json").write_text(json.dumps(examples))


def test_single_label_family_training_on_nsynth_format(tmp_path, notes):
    _nsynth_fixture(tmp_path / "nsynth", notes)
    tracks = load_tracks(tmp_path / "nsynth", "valid")
    families = sorted(NSYNTH_FAMILIES.index(GM_TO_NSYNTH[n.program].family) for n in FIXTURE_NOTES)
    assert not tracks.multilabel and sorted(tracks.targets.tolist()) == families
    result = train_tagger(_config(tmp_path / "nsynth", tmp_path / "run", max_epochs=2))
    tagger = load_tagger(result.model_dir)
    assert tagger.labels == list(NSYNTH_FAMILIES) and not tagger.multilabel
    assert evaluate_tagger(tagger, tracks).accuracy == pytest.approx(result.best_score, abs=1e-6)
    pitches = load_tracks(tmp_path / "nsynth", "test", target="pitch")
    assert pitches.labels[0] == "21" and sorted(pitches.targets.tolist()) == sorted(n.pitch - 21 for n in FIXTURE_NOTES)


def test_clip_tagger_is_evaluated_on_the_families_of_notes(tmp_path, notes, capsys):
    _nsynth_fixture(tmp_path / "nsynth", notes)
    # The shipped tagger's 17 tags include NSynth's 11 families: scored on those.
    assert main(["eval", "tagger", str(DEFAULT_TAGGER), "--data", str(tmp_path / "nsynth")]) == 0
    assert "accuracy=" in capsys.readouterr().out
    model = create_model("test/tiny-tagger", num_classes=2)
    save_model_dir(model, tmp_path / "ab", metadata={"labels": ["bass", "drums"], "multilabel": True})
    assert main(["eval", "tagger", str(tmp_path / "ab"), "--data", str(tmp_path / "nsynth")]) == 2
    err = capsys.readouterr().err
    assert "the tagger's 2 labels lack 10 of the data's 11: brass, flute, guitar" in err and "and 2 more" in err


def test_shipped_tagger_works_out_of_the_box(clips, capsys):
    config = json.loads((DEFAULT_TAGGER / "config.json").read_text())
    meta = config["metadata"]
    assert meta["labels"] == list(LABELS) and meta["data_recipe"]["soundfont"] == [
        "FluidR3_GM.sf2", "TimGM6mb.sf2", "OPL-3_FM_128M.sf2"
    ]  # fmt: skip
    assert meta["train"]["seed"] == 0 and meta["train"]["max_minutes"] > 0 and meta["steps"] > 0
    # ResNet-18 in float32: 11.2 M parameters, the biggest file the package ships (README: the clips tagger).
    assert (DEFAULT_TAGGER / "model.safetensors").stat().st_size < 48_000_000
    wav = clips / "test" / "00001.wav"
    assert _cli("tag", str(wav), "--top", "17") == 0
    printed = capsys.readouterr().out.strip().split(": ", 1)[1]
    (prediction,) = predict_files(load_tagger(), [wav])
    assert [t.rsplit(" ", 1)[0] for t in printed.split(", ")] == [label for label, _ in prediction.top(17)]
    assert prediction.scores.shape == (17,) and bool(((prediction.scores >= 0) & (prediction.scores <= 1)).all())


def test_shipped_notes_tagger_tags_a_rendered_note_with_the_11_families(notes, tmp_path, capsys):
    meta = json.loads((SHIPPED_TAGGERS["notes"] / "config.json").read_text())["metadata"]
    assert meta["labels"] == list(NSYNTH_FAMILIES) and not meta["multilabel"]
    # Rendered notes of three libraries, and the shipped codec's round trips of a quarter of them.
    clean, codec = meta["data_recipe"]["recipes"]["clean"], meta["data_recipe"]["recipes"]["codec"]
    assert sorted(clean["sources"]) == ["fluidr3", "opl3", "timgm6mb"]
    assert codec["sha256"] == load_codec().weights_sha256 and codec["source_recipe"] == clean
    assert meta["train"]["seed"] == 0 and meta["train"]["feature_cache"] and meta["steps"] > 0
    wav = tmp_path / "violin.wav"
    save(wav, notes[2], sample_rate=16000)  # violin G4 of the test soundfont
    assert _cli("tag", str(wav), "--model", "notes", "--json", str(tmp_path / "tags.json"), "--top", "1") == 0
    # The right family (string 1.00 for the round-trip fine-tuned model).
    assert capsys.readouterr().out.startswith(f"{wav}: string ")
    (result,) = json.loads((tmp_path / "tags.json").read_text())
    assert list(result["scores"]) == list(NSYNTH_FAMILIES)
    assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-5)  # softmax over the families
    assert len(result["chunk_scores"]) == 1  # a 4 s note is one chunk
    (same,) = predict_files(load_tagger(SHIPPED_TAGGERS["notes"]), [wav])
    assert [round(float(v), 6) for v in same.scores] == list(result["scores"].values())
    # The default stays the clips tagger.
    assert _cli("tag", str(wav), "--json", str(tmp_path / "clips.json")) == 0
    assert len(json.loads((tmp_path / "clips.json").read_text())[0]["scores"]) == 17


def test_csv_history_kept_unites_columns_and_leaves_an_untouched_log_alone(tmp_path):
    log = tmp_path / "logs" / "metrics.csv"
    log.parent.mkdir()
    log.write_text("epoch,step,train/loss\n0,1,0.7\n0,2,0.6\n")
    trainer = SimpleNamespace(is_global_zero=True)
    with csv_history_kept(tmp_path, trainer, resuming=True):
        pass  # a resumed run that never logged
    assert log.read_text() == "epoch,step,train/loss\n0,1,0.7\n0,2,0.6\n"
    with csv_history_kept(tmp_path, trainer, resuming=True):
        log.write_text("epoch,step,val/roc_auc\n1,3,0.8\n")  # Lightning restarts the file on resume
    with open(log) as fh:
        assert list(csv.DictReader(fh)) == [
            {"epoch": "0", "step": "1", "train/loss": "0.7", "val/roc_auc": ""},
            {"epoch": "0", "step": "2", "train/loss": "0.6", "val/roc_auc": ""},
            {"epoch": "1", "step": "3", "train/loss": "", "val/roc_auc": "0.8"},
        ]


def test_tag_refuses_a_checkpoint_holding_objects_in_one_line(tmp_path, capsys):
    from spectrolab.cli.main import main

    torch.save({"state_dict": torch.nn.Linear(2, 2)}, tmp_path / "objects.ckpt")
    (tmp_path / "garbage.ckpt").write_bytes(b"not a checkpoint")
    note = tmp_path / "note.wav"
    io.save(note, torch.sin(torch.arange(16000) / 5.0) * 0.5, sample_rate=16000)
    assert main(["tag", str(note), "--model", str(tmp_path / "objects.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "pickled torch.nn.modules.linear.Linear object" in err and len(err.strip().splitlines()) == 1
    assert main(["tag", str(note), "--model", str(tmp_path / "garbage.ckpt")]) == 2
    assert "garbage.ckpt: not a checkpoint of `spectrolab train tagger` (unreadable" in capsys.readouterr().err


def test_a_warm_start_loads_every_tensor_but_the_classifier_and_is_recorded(clips, tmp_path):
    source = create_model("test/tiny-tagger", num_classes=11, input_length=3000)
    cost = {"joules": [10.0, 30.0], "method": "estimated"}
    save_model_dir(source, tmp_path / "notes", metadata={"steps": 7, "training_energy": cost, "labels": ["x"]})
    warm = tagger_warm_start(tmp_path / "notes")
    assert warm.model_args == {"input_length": 3000} and warm.head_rows == 11
    assert warm.budget == {"steps": 7, "training_energy": cost}  # its cost, not the rest of its metadata
    target = create_model("test/tiny-tagger", num_classes=len(LABELS), **warm.model_args)
    head = target.head.weight.detach().clone()
    assert warm.load_into(target, name="test/tiny-tagger") == ["head.weight", "head.bias"]
    assert torch.equal(target.conv.weight, source.conv.weight) and torch.equal(target.conv.bias, source.conv.bias)
    assert torch.equal(target.head.weight, head)  # the classifier of the other labels keeps its initialisation
    with pytest.raises(ConfigError, match="it is a test/tiny-tagger, not a short_chunk_cnn"):
        warm.load_into(target, name="short_chunk_cnn")
    wider = create_model("test/tiny-tagger", num_classes=11)
    wider.conv = nn.Conv1d(1, 4, kernel_size=32, stride=32)
    with pytest.raises(ConfigError, match=r"conv.weight has shape \(4, 1, 64\) there and shape \(4, 1, 32\) here"):
        warm.load_into(wider, name="test/tiny-tagger")
    # Training from it: the source's builder arguments are the defaults, and the model records where it started.
    result = train_tagger(_config(clips, tmp_path / "run", init_from=str(tmp_path / "notes")))
    config = json.loads((result.model_dir / "config.json").read_text())
    assert config["args"]["input_length"] == 3000 and config["args"]["num_classes"] == len(LABELS)
    started = config["metadata"]["warm_start"]
    assert started["sha256"] == warm.sha256 and started["fresh"] == ["head.weight", "head.bias"]
    assert started["source_budget"] == {"steps": 7, "training_energy": cost}
    assert config["metadata"]["train"]["init_from"] == str(tmp_path / "notes")


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, capsys, native):
    from spectrolab.training import runs

    monkeypatch.setattr(runs, "native_bfloat16", lambda: native)
    assert runs.training_precision("auto") == ("bf16-mixed" if native else "32-true")
    assert runs.training_precision("32-true") == "32-true" and capsys.readouterr().err == ""
    assert runs.training_precision("bf16-mixed") == "bf16-mixed"  # asked for: kept, with a warning where emulated
    err = capsys.readouterr().err
    assert ("emulated" in err and len(err.strip().splitlines()) == 1) if not native else err == ""


def test_the_exported_model_records_the_precision_it_trained_in(clips, tmp_path):
    result = train_tagger(_config(clips, tmp_path / "run", precision="auto"))
    meta = json.loads((result.model_dir / "config.json").read_text())["metadata"]
    assert meta["train"]["precision"] == "auto"
    assert meta["precision"] == ("bf16-mixed" if native_bfloat16() else "32-true")

"""The command line: one line on error, non-zero exit, nothing written; the demo writes what it promises."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spectrolab.cli import clips as clips_cli
from spectrolab.cli.main import build_parser, main
from spectrolab.cli.models import read_catalog
from spectrolab.data.gm import GM_TO_NSYNTH
from spectrolab.data.nsynth_render import nsynth_example
from spectrolab.models.registry import model_catalog

ROOT = Path(__file__).resolve().parent.parent


def test_error_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["data", "info", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "nowhere" in err and err.startswith("spectrolab data")


def test_console_script_runs_as_module():
    result = subprocess.run([sys.executable, "-m", "spectrolab.cli.main", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("spectrolab ")


def _nsynth_split(root, split="train"):
    folder = root / f"nsynth-{split}"
    folder.mkdir(parents=True)
    example = nsynth_example(GM_TO_NSYNTH[0], pitch=60, velocity=100, sample_rate=16000)
    (folder / "examples.json").write_text(json.dumps({example["note_str"]: example}))


def test_help_version_models_and_data_info_start_without_torch(tmp_path):
    _nsynth_split(tmp_path / "ds")
    script = f"""
import sys
from spectrolab.cli.main import main
for argv in (["--help"], ["--version"], ["blur", "--help"], ["train", "codec", "--help"]):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, argv
assert main(["models", "--task", "codec"]) == 0
assert main(["data", "info", {str(tmp_path / "ds")!r}]) == 0
print("torch imported:", "torch" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "vqvae_default" in result.stdout and "keyboard" in result.stdout
    assert result.stdout.strip().endswith("torch imported: False")


def test_model_catalogue_matches_the_registry():
    assert read_catalog() == model_catalog(), "run `PYTHONPATH=src python scripts/model_catalog.py`"
    assert {e["task"] for e in read_catalog()} == {"codec", "prior", "tagging"}


def test_unknown_task_lists_the_tasks(capsys):
    assert main(["models", "--task", "tagger"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'tagging'?" in err and "codec, prior, tagging" in err


def test_unknown_option_gets_the_subcommand_usage_and_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["blur", "in.wav", "-o", "out.wav", "--temprature", "2"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("usage: spectrolab blur ")
    assert "unrecognized arguments: --temprature 2; did you mean '--temperature'?" in err
    with pytest.raises(SystemExit):
        main(["train", "codec", "--data", "d", "--out", "o", "--vall-every", "3"])
    err = capsys.readouterr().err
    assert err.startswith("usage: spectrolab train codec ") and "did you mean '--val-every'?" in err
    with pytest.raises(SystemExit):
        main(["blurr"])
    assert "did you mean 'blur'?" in capsys.readouterr().err


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "codec", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "wall-clock budget (resuming counts past time) (default: 70.0)" in out
    assert "(default: vqvae_default)" in out and "(default: None)" not in out and "(default: False)" not in out


def test_data_clips_takes_the_folder_as_out_too(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(clips_cli, "render_clips", lambda out, recipe, **kw: calls.append(out))
    assert main(["data", "clips", "--out", str(tmp_path / "a"), "--counts", "1", "1", "1"]) == 0
    assert main(["data", "clips", str(tmp_path / "b")]) == 0
    assert calls == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert main(["data", "clips", str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 2


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The parser of ``spectrolab WORDS...`` (e.g. ``train codec``), going down while the words name subcommands."""
    for word in words:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or word not in actions[0].choices:
            break
        parser = actions[0].choices[word]
    return parser


def test_readme_commands_use_options_that_exist():
    readme = (ROOT / "README.md").read_text()
    assert readme.startswith("# spectrolab\n\n```bash\nmake demo   # sets everything up")
    assert "../shared" not in readme and "docs/design.md" in readme and (ROOT / "docs/design.md").is_file()
    parser = build_parser()
    rows = re.findall(r"^\| `spectrolab ([^`]*)`", readme, flags=re.MULTILINE)
    assert len(rows) >= 12
    for row in rows:
        sub = _subparser(parser, row.split())
        known = {o for action in sub._actions for o in action.option_strings}
        used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", row))
        assert used <= known, f"spectrolab {row}: {sorted(used - known)} are not options of {sub.prog}"

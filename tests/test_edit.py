"""The blur edit: region mapping, outside cells untouched, seeding, and the CLI end to end."""

from __future__ import annotations

import hashlib
import itertools
import json
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from spectrolab.audio import io
from spectrolab.cli.main import main
from spectrolab.codec import DEFAULT_CODEC_DIR, load_codec
from spectrolab.edit.blur import BlurOptions, blur, cells_of
from spectrolab.edit.editor import edit_audio
from spectrolab.edit.plot import draws_cell_lines, edit_figure, plot_edit
from spectrolab.edit.region import CellRegion, Region, cells_to_region, parse_span, region_to_cells
from spectrolab.errors import ConfigError, ModelError, SpectrolabWarning
from spectrolab.models import create_model, save_model_dir
from spectrolab.models.registry import WEIGHTS_NAME, read_config
from spectrolab.priors.api import SHIPPED_PRIORS, load_prior
from spectrolab.priors.base import Conditioning

EDGES = (0.0, 100.0, 200.0, 400.0, 800.0)
SAMPLE_RATE = 16000


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def codec(notes):
    """An untrained default codec whose codebook is k-means-initialised on the notes (one training forward)."""
    torch.manual_seed(0)
    model = create_model("vqvae_default")
    with torch.no_grad():
        model.train()(model.analyse(notes))
    return model.eval()


def test_region_covers_overlapped_cells_by_hand():
    region = Region(start_s=0.3, stop_s=0.6, low_hz=150.0, high_hz=450.0)
    cells = region_to_cells(region, seconds_per_cell=0.25, row_edges_hz=EDGES, width=8)
    assert cells == CellRegion(row_start=1, row_stop=4, col_start=1, col_stop=3)
    assert cells_to_region(cells, seconds_per_cell=0.25, row_edges_hz=EDGES) == Region(0.25, 0.75, 100.0, 800.0)
    assert cells.mask(4, 8).sum() == cells.num_cells == 6


def test_cells_region_cells_round_trip_on_mel_edges(codec, notes):
    with torch.inference_mode():
        grid = codec.encode(notes[:1]).levels[0]
    edges, spc = grid.row_edges_hz, grid.seconds_per_cell
    assert grid.shape == (32, 16)
    for r0, r1 in itertools.combinations(range(33), 2):
        for c0, c1 in ((0, 1), (3, 9), (15, 16), (0, 16)):
            cells = CellRegion(r0, r1, c0, c1)
            region = cells_to_region(cells, seconds_per_cell=spc, row_edges_hz=edges)
            assert region_to_cells(region, seconds_per_cell=spc, row_edges_hz=edges, width=16) == cells


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ((1.0, 0.5, 100.0, 200.0), "empty or inverted"),
        ((0.5, 0.5, 100.0, 200.0), "empty or inverted"),
        ((0.0, 1.0, 300.0, 300.0), "empty or inverted"),
        ((0.0, 1.0, 300.0, 200.0), "empty or inverted"),
        ((2.0, 2.5, 100.0, 200.0), "outside the sound"),
        ((-0.5, 0.0, 100.0, 200.0), "outside the sound"),
        ((0.0, 1.0, 800.0, 900.0), "outside the grid's range"),
        ((0.0, float("nan"), 100.0, 200.0), "finite"),
    ],
)
def test_bad_regions_raise(bounds, message):
    with pytest.raises(ConfigError, match=message):
        region_to_cells(Region(*bounds), seconds_per_cell=0.25, row_edges_hz=EDGES, width=8, duration=2.0)


def test_regions_partly_outside_are_clipped_with_a_warning():
    def cells(*bounds: float) -> CellRegion:
        return region_to_cells(Region(*bounds), seconds_per_cell=0.25, row_edges_hz=EDGES, width=8, duration=2.0)

    with pytest.warns(SpectrolabWarning, match="reaches outside the sound .*clipped to 1.5:2 s"):
        assert cells(1.5, 3.0, 100.0, 200.0) == CellRegion(1, 2, 6, 8)
    with pytest.warns(SpectrolabWarning, match="clipped to 0:0.5 s"):
        assert cells(-0.5, 0.5, 100.0, 200.0) == CellRegion(1, 2, 0, 2)
    with pytest.warns(SpectrolabWarning, match="grid's range .*clipped to 100:800 Hz"):
        assert cells(0.0, 1.0, 100.0, 900.0) == CellRegion(1, 4, 0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside, or off by rounding only: no warning
        assert cells(0.0, 2.0 + 1e-9, 0.0, 800.0) == CellRegion(0, 4, 0, 8)


def test_bad_cell_regions_and_spans_raise():
    with pytest.raises(ConfigError, match="empty"):
        CellRegion(2, 2, 0, 1)
    with pytest.raises(ConfigError, match="outside"):
        CellRegion(0, 5, 0, 1).mask(4, 8)
    assert parse_span("0.5:1.5", what="--time") == (0.5, 1.5)
    for text in ("0.5", "a:b", "1:2:3"):
        with pytest.raises(ConfigError, match="--time"):
            parse_span(text, what="--time")


@pytest.fixture(scope="module")
def priors(codec, notes):
    with torch.inference_mode():
        codes = codec.encode(notes).grids[0]
    torch.manual_seed(0)
    nb = create_model("prior_naive_bayes", codebook_size=1024, height=32, neighbour_vocab=64).fit(codes)
    transformer = create_model(
        "prior_transformer", codebook_size=1024, height=32, max_width=16, d_model=32, num_layers=1, dim_feedforward=64
    ).eval()
    return {"nb": nb, "transformer": transformer}


@pytest.mark.parametrize("name", ["nb", "transformer"])
def test_blur_changes_only_the_region_and_is_seeded(codec, priors, notes, name):
    region = Region(start_s=0.5, stop_s=1.5, low_hz=200.0, high_hz=4000.0)
    wave = notes[1:2]

    def edit(seed: int):
        return blur(wave, codec=codec, prior=priors[name], region=region, options=BlurOptions(seed=seed, steps=3))

    first, again, other = edit(0), edit(0), edit(1)
    mask = first.cells.mask(32, 16)
    before, after = first.original.grids[0][0], first.edited.grids[0][0]
    assert torch.equal(after[~mask], before[~mask])
    assert first.changed_cells > 0
    assert first.wave.shape == (1, notes.shape[1])
    assert torch.equal(first.wave, again.wave)
    assert not torch.equal(first.edited.grids[0], other.edited.grids[0])
    assert first.cells == cells_of(first.original, region)
    assert first.region.start_s <= 0.5 and first.region.stop_s >= 1.5
    assert first.region.low_hz <= 200.0 and first.region.high_hz >= 4000.0


def test_blur_with_target_labels_and_mismatched_prior(codec, priors, notes):
    region = CellRegion(4, 10, 2, 6)
    target = BlurOptions(conditioning=Conditioning(pitch=torch.tensor([60]), family=torch.tensor([3])))
    result = blur(notes[:1], codec=codec, prior=priors["nb"], region=region, options=target)
    assert result.cells == region
    wrong = create_model("prior_naive_bayes", codebook_size=512, height=32)
    with pytest.raises(ModelError, match="1024 codes"):
        blur(notes[:1], codec=codec, prior=wrong, region=region)


def test_priors_refuse_codes_of_another_codec_than_theirs(tmp_path, notes, capsys):
    torch.manual_seed(1)
    save_model_dir(create_model("vqvae_default"), tmp_path / "other")  # same grids as the shipped codec
    other, prior = load_codec(tmp_path / "other"), load_prior("nb")
    assert (prior.codec_name, prior.codec_sha256) == ("vqvae_default", load_codec().weights_sha256)
    region = CellRegion(4, 10, 2, 6)
    with pytest.raises(ModelError, match="not by the codec this prior was fitted on \\('vqvae_default'\\)"):
        blur(notes[:1], codec=other, prior=prior, region=region)
    with pytest.warns(SpectrolabWarning):
        blur(notes[:1], codec=other, prior=prior, region=region, options=BlurOptions(allow_codec_mismatch=True))
    note = io.save(tmp_path / "note.wav", notes[0], sample_rate=SAMPLE_RATE)
    argv = ["blur", str(note), "-o", str(tmp_path / "o.wav"), "--codec", str(tmp_path / "other"), "--cols", "2:4"]
    assert main(argv) == 2 and "--allow-codec-mismatch" in capsys.readouterr().err
    assert main([*argv, "--allow-codec-mismatch"]) == 0
    assert "spectrolab blur: warning: these codes were made by codec" in capsys.readouterr().err
    assert main([*argv, "--prior", "transfomer", "--force"]) == 2
    assert "unknown prior 'transfomer'; did you mean 'transformer'?" in capsys.readouterr().err


def test_cli_blur_end_to_end(tmp_path, codec, priors, notes, capsys):
    save_model_dir(codec, tmp_path / "codec")
    save_model_dir(priors["nb"], tmp_path / "nb")
    note = io.save(tmp_path / "note.wav", notes[2], sample_rate=SAMPLE_RATE)
    out, png = tmp_path / "out.wav", tmp_path / "plot.png"
    base = ["blur", str(note), "-o", str(out), "--codec", str(tmp_path / "codec"), "--prior", str(tmp_path / "nb")]
    args = [*base, "--time", "0.5:1.5", "--freq", "200:4000", "--seed", "3", "--plot", str(png)]
    assert main(args) == 0
    assert io.load(out).shape == (1, notes.shape[1])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = out.read_bytes()
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert out.read_bytes() == first
    assert main([*base[:3], str(tmp_path / "bad.wav"), *base[4:], "--time", "4.5:5", "--force"]) == 2
    assert "outside the sound" in capsys.readouterr().err
    assert not (tmp_path / "bad.wav").exists()
    assert main([*base[:3], str(tmp_path / "end.wav"), *base[4:], "--time", "3:8"]) == 0
    assert "spectrolab blur: warning: region 3:8 s reaches outside the sound (0 to 4 s); clipped to 3:4 s" in (
        capsys.readouterr().err
    )
    cells = [*base, "--rows", "2:6", "--cols", "1:3", "--family", "string", "--pitch", "67", "--force"]
    assert main(cells) == 0
    assert "(8 cells" in capsys.readouterr().out
    assert main([*cells, "--guidance", "-1"]) == 2 and "guidance must be a number >= 0" in capsys.readouterr().err
    assert main([*cells, "--plot", str(tmp_path / "p.gif")]) == 2 and "'.gif'" in capsys.readouterr().err
    assert main([*cells, "--time", "0:1"]) == 2
    assert "either" in capsys.readouterr().err
    assert main([*base, "--rows", "2:40", "--force"]) == 2
    assert "outside the 32 x 16 grid" in capsys.readouterr().err


def test_shipped_transformer_edits_a_minute_of_sound(notes):
    """The shipped transformer sees 16 columns (4 s); a 60 s sound is edited through a window around the region."""
    codec, prior = load_codec(), load_prior("transformer")
    wave = notes.repeat(3, 1).reshape(1, -1)  # the five notes three times: 60 s
    region = Region(start_s=30.2, stop_s=31.3, low_hz=200.0, high_hz=4000.0)
    result = blur(wave, codec=codec, prior=prior, region=region, options=BlurOptions(steps=4))
    before, after = result.original.grids[0][0], result.edited.grids[0][0]
    assert before.shape == (32, 235) and result.wave.shape == wave.shape
    mask = result.cells.mask(*before.shape)
    assert torch.equal(after[~mask], before[~mask]) and result.changed_cells > 0
    whole = blur(wave, codec=codec, prior=prior, region=Region(0.0, 60.0, 0.0, 8000.0), options=BlurOptions(steps=2))
    assert whole.cells.num_cells == 32 * 235 and whole.changed_cells > 32 * 235 // 2


def test_cli_blur_with_the_transformer_on_a_long_file(tmp_path, notes, capsys):
    note = io.save(tmp_path / "long.wav", notes[:4].reshape(-1), sample_rate=SAMPLE_RATE)  # 16 s
    out = tmp_path / "out.wav"
    assert main(["blur", str(note), "-o", str(out), "--prior", "transformer", "--time", "9:11", "--steps", "3"]) == 0
    assert "resampled" in capsys.readouterr().out and io.info(out).duration == pytest.approx(16.0)


def test_edit_figure_labels_the_original_has_a_colour_bar_and_a_visible_frame(codec, priors, notes, tmp_path):
    audio = io.NativeAudio((notes[0].numpy()[:, None] * 0.9).astype(np.float32), SAMPLE_RATE, "WAV", "FLOAT")
    whole = Region(start_s=0.0, stop_s=4.0, low_hz=0.0, high_hz=8000.0)
    result = edit_audio(audio, codec=codec, prior=priors["nb"], region=whole, options=BlurOptions(steps=1))
    fig = edit_figure(result, audio)
    before, after, bar = fig.axes
    assert "original" in before.get_title() and after.get_title().startswith("after")
    assert bar.get_ylabel() == "log-mel power (dB)"
    assert len(before.lines) == 31 + 15  # 32 x 16 cells are wide enough: their boundaries are drawn
    frame, support = before.patches
    assert not frame.get_clip_on() and frame.get_zorder() > before.spines["bottom"].get_zorder()
    assert frame.get_y() == -0.5 and frame.get_y() + frame.get_height() == before.get_ylim()[1]
    assert support.get_linestyle() == "--"
    assert draws_cell_lines(16, 400) and not draws_cell_lines(1172, 400)  # a 5-minute file's columns
    plt.close(fig)
    magic = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff", ".svg": b"<?xml", ".pdf": b"%PDF"}
    for suffix, start in magic.items():
        path = plot_edit(result, audio, path=tmp_path / f"f{suffix}")
        assert path.read_bytes().startswith(start), suffix
    with pytest.raises(ConfigError, match=r"\.png, \.jpg, \.jpeg, \.svg, \.pdf; not '\.gif'"):
        plot_edit(result, audio, path=tmp_path / "f.gif")
    assert not (tmp_path / "f.gif").exists()


def test_shipped_priors_fit_the_shipped_codec_and_record_their_training():
    codec = load_codec()
    height, width = codec.grid_shapes(64000)[0]
    for name, directory in SHIPPED_PRIORS.items():
        prior = load_prior(name)
        assert (prior.codebook_size, prior.height) == (codec.codebook_sizes[0], height), name
        metadata = read_config(directory)["metadata"]
        assert metadata["trained_by"].startswith("PYTHONPATH=src python scripts/train_priors.py")
        assert {"data", "codec", "seed"} <= set(metadata) and metadata["codec_name"] == "vqvae_default"
        weights = (DEFAULT_CODEC_DIR / WEIGHTS_NAME).read_bytes()
        assert metadata["codec_sha256"] == hashlib.sha256(weights).hexdigest(), f"{name} was fitted on other codes"
        assert sum(f.stat().st_size for f in directory.iterdir()) < 8_000_000
    assert load_prior("transformer").max_width >= width


def test_demo_blurs_the_bundled_note(tmp_path, capsys):
    args = ["demo", "--out", str(tmp_path)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for name in ("example_note.wav", "example_codec.wav", "example_blur_nb.wav", "example_blur_nb.png"):
        assert str(tmp_path / name) in printed
    assert io.load(tmp_path / "example_blur_nb.wav").shape == io.load(tmp_path / "example_note.wav").shape
    assert main(args) == 0, "the demo replaces its own outputs"


def test_cli_blur_energy_measures_by_repetition_without_changing_the_edit(tmp_path, codec, priors, notes, capsys):
    save_model_dir(codec, tmp_path / "codec")
    save_model_dir(priors["nb"], tmp_path / "nb")
    note = io.save(tmp_path / "note.wav", notes[2], sample_rate=SAMPLE_RATE)
    base = ["blur", str(note), "--codec", str(tmp_path / "codec"), "--prior", str(tmp_path / "nb"), "--seed", "3"]
    assert main([*base, "-o", str(tmp_path / "plain.wav"), "--time", "0.5:1.5"]) == 0
    record = tmp_path / "energy/nb.json"
    measured = [*base, "-o", str(tmp_path / "m.wav"), "--time", "0.5:1.5", "--energy-seconds", "0.2"]
    assert main([*measured, "--energy-meter", "estimate", "--country", "SE", "--energy-json", str(record)]) == 0
    out = capsys.readouterr().out
    assert "energy: " in out and "estimated (CPU-seconds x 3-10 W/core + RAM 0.5-3 W x wall)" in out
    assert "at 41 g CO2e/kWh (SE;" in out
    assert (tmp_path / "m.wav").read_bytes() == (tmp_path / "plain.wav").read_bytes()
    data = json.loads(record.read_text())
    assert data["schema"] == "spectrolab.energy.measurement/1" and data["unit"] == "edit"
    assert 0 < data["energy"]["joules_low"] <= data["energy"]["joules_high"] and data["energy"]["repeats"] >= 1
    assert main([*measured, "--energy-json", str(record)]) == 2  # the record exists: --force needed

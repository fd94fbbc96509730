"""``spectrolab demo``: render a few real notes, invert their spectrograms, write audio and PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from spectrolab import metrics
from spectrolab.audio import io
from spectrolab.audio.representations import MelIF, MelIFConfig
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness
from spectrolab.plot import Panel, save_panels

DEMO_NOTES = {"piano": NoteSpec(0, 60, 100), "violin": NoteSpec(40, 67, 100), "trumpet": NoteSpec(56, 64, 110)}


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    rep = MelIF(MelIFConfig.gansynth())
    with NoteRenderer(args.soundfont) as renderer:
        for name, note in DEMO_NOTES.items():
            wave = torch.from_numpy(normalize_loudness(renderer.render(note)))[None]
            with torch.inference_mode():
                spec = rep(wave)
                back = rep.inverse(spec, length=wave.shape[-1])
            error = metrics.mel_log_spectral_distance(wave, back, sample_rate=rep.sample_rate).item()
            io.save(out / f"{name}.wav", wave, sample_rate=rep.sample_rate, force=True)
            io.save(out / f"{name}_roundtrip.wav", back, sample_rate=rep.sample_rate, force=True)
            seconds, hz = rep.num_samples(spec.shape[-1]) / rep.sample_rate, rep.frequencies()
            png = save_panels(
                [
                    Panel(spec[0, 0], f"{name}: log-mel magnitude", seconds, hz),
                    Panel(spec[0, 1], f"{name}: mel instantaneous frequency", seconds, hz),
                    Panel(rep(back)[0, 0], f"round trip (mel LSD {error:.2f} dB)", seconds, hz),
                ],
                out / f"{name}.png",
                force=True,
            )
            print(f"{name:8s} {out / (name + '.wav')}  {out / (name + '_roundtrip.wav')}  {png}")
    print(f"demo outputs in {out.resolve()}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="render notes, show their spectrograms, invert them back to audio")
    p.add_argument("--out", default="out/demo", help="output folder (its demo files are replaced)")
    p.add_argument("--soundfont", default=TEST_SOUNDFONT, help="General-MIDI .sf2 file or installed name")
    p.set_defaults(run=_run)

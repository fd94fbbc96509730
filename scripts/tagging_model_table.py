"""Write results/tagging_models.md: every registered tagger's configuration, size and CPU forward speed.

Run: PYTHONPATH=src python scripts/tagging_model_table.py [--repeats 5] [--output results/tagging_models.md]

Speed is the best of ``--repeats`` timed forward passes (batch 1, eval mode, no autograd, one thread, after
one warm-up pass) on real notes rendered from the test soundfont, divided by the chunk's duration: seconds of
compute per second of audio. The reference column is the parameter count of the published reference code for
50 classes, computed by hand from its layer definitions (tests/test_tagging_models.py checks it).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness
from spectrolab.models import count_parameters, create_model, list_models
from spectrolab.models.tagging.frontend import MelFrontEnd
from spectrolab.models.tagging.harmonic import HarmonicFrontEnd

NUM_CLASSES = 50
REFERENCE_COUNTS = {
    "fcn": 447_732,
    "crnn": 394_100,
    "musicnn": 784_300,
    "sample_cnn": 1_869_874,
    "sample_cnn_se": 6_951_858,
    "short_chunk_cnn": 3_687_348,
    "short_chunk_resnet": 12_104_244,
    "harmonic_cnn": 3_631_551,
    "cnnsa": 10_521_652,
    "music_tagging_transformer": 4_567_732,
}
NOTES = (
    "CNNSA adds a trained [CLS] token and learned position embeddings that the reference code lacks (+179,968). "
    "Won et al. 2020 quote 3.7M parameters for the Short-chunk CNN."
)


@lru_cache(maxsize=4)
def render_notes(sample_rate: int) -> np.ndarray:
    """Soundfont notes (piano, guitar, violin, trumpet, flute) played one after another."""
    specs = [NoteSpec(program=p, pitch=k, velocity=100) for p, k in ((0, 60), (24, 52), (40, 67), (56, 64), (73, 79))]
    with NoteRenderer(TEST_SOUNDFONT, sample_rate=sample_rate) as renderer:
        return np.concatenate([normalize_loudness(renderer.render(s)) for s in specs])


def render_audio(sample_rate: int, length: int) -> torch.Tensor:
    """(1, length) of the rendered notes, repeated as needed."""
    return torch.from_numpy(np.resize(render_notes(sample_rate), length)).float()[None]


def input_description(model: torch.nn.Module) -> str:
    frontend = getattr(model, "frontend", None)
    if isinstance(frontend, MelFrontEnd):
        return f"{frontend.n_mels} mel"
    if isinstance(frontend, HarmonicFrontEnd):
        return f"{frontend.n_harmonic} x {frontend.level} harmonic"
    return "raw waveform"


def seconds_per_audio_second(model: torch.nn.Module, wave: torch.Tensor, *, repeats: int) -> float:
    times = []
    with torch.inference_mode():
        model(wave)
        for _ in range(repeats):
            start = time.perf_counter()
            model(wave)
            times.append(time.perf_counter() - start)
    return min(times) / (wave.shape[-1] / model.sample_rate)


def table(repeats: int) -> str:
    rows = [
        "| model | input (s) | sample rate (Hz) | input features | parameters | reference code | CPU s / audio s |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    load = os.getloadavg()[0]
    for name in list_models(task="tagging"):
        model = create_model(name, num_classes=NUM_CLASSES).eval()
        wave = render_audio(model.sample_rate, model.input_length)
        speed = seconds_per_audio_second(model, wave, repeats=repeats)
        reference = f"{REFERENCE_COUNTS[name]:,}" if name in REFERENCE_COUNTS else "-"
        rows.append(
            f"| `{name}` | {model.input_length / model.sample_rate:.2f} | {model.sample_rate} | "
            f"{input_description(model)} | {count_parameters(model):,} | {reference} | {speed:.4f} |"
        )
        print(rows[-1], flush=True)
    header = (
        "# Tagging models\n\n"
        f"{NUM_CLASSES} classes; forward time on CPU ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, 1-minute load average {load:.1f} when timing began, torch {torch.__version__}, "
        f"1 thread, batch 1, best of {repeats}), in seconds of compute per second of audio: a busy machine "
        "inflates it. Written by `scripts/tagging_model_table.py`.\n\n"
    )
    return header + "\n".join(rows) + f"\n\n{NOTES}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=Path("results/tagging_models.md"))
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.output, table(args.repeats).encode(), force=args.force)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""Round-trip error of each representation's inverse on real notes rendered from FluidR3_GM.

Writes results/representations.md. Run: ``python scripts/representation_results.py`` (about a minute).
Notes: 8 GM programs from different families x 4 pitches, velocity 100, 4 s at 16 kHz, peak-normalised.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from spectrolab import metrics
from spectrolab.audio.representations import (
    LinearSTFT,
    LinearSTFTConfig,
    LogMel,
    LogMelConfig,
    MelIF,
    MelIFConfig,
    Representation,
)
from spectrolab.data.soundfont import DEFAULT_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness

PROGRAMS = {
    0: "piano",
    11: "vibraphone",
    19: "organ",
    25: "guitar",
    33: "bass",
    40: "violin",
    56: "trumpet",
    73: "flute",
}
PITCHES = (36, 52, 64, 79)
CANDIDATES: dict[str, Representation] = {
    "MelIF gansynth (2048/512, 1024 mel, no Griffin-Lim)": MelIF(MelIFConfig.gansynth()),
    "MelIF fast (1024/256, 512 mel, no Griffin-Lim)": MelIF(MelIFConfig.fast()),
    "MelIF low-res (1024/256, 128 mel, no Griffin-Lim)": MelIF(MelIFConfig(n_fft=1024, hop_length=256, n_mels=128)),
    "LinearSTFT (1024/256) + Griffin-Lim 32": LinearSTFT(LinearSTFTConfig()),
    "LogMel 256 (1024/256) + Griffin-Lim 32": LogMel(LogMelConfig(n_fft=1024, n_mels=256, f_max=None)),
    "LogMel 128 (1024/256) + Griffin-Lim 32": LogMel(LogMelConfig(n_fft=1024, n_mels=128, f_max=None)),
}


def render_notes(soundfont: str) -> torch.Tensor:
    with NoteRenderer(soundfont) as renderer:
        waves = [
            normalize_loudness(renderer.render(NoteSpec(program, pitch, 100)))
            for program in PROGRAMS
            for pitch in PITCHES
        ]
    return torch.from_numpy(np.stack(waves))


def measure(rep: Representation, waves: torch.Tensor) -> dict[str, float]:
    torch.manual_seed(0)
    with torch.inference_mode():
        specs = rep(waves)
        start = time.perf_counter()
        back = torch.cat([rep.inverse(specs[i : i + 1], length=waves.shape[-1]) for i in range(len(waves))])
        per_note_ms = 1000 * (time.perf_counter() - start) / len(waves)
    sr = rep.sample_rate
    return {
        "SC": metrics.spectral_convergence(waves, back).mean().item(),
        "LSD (dB)": metrics.log_spectral_distance(waves, back).mean().item(),
        "mel LSD (dB)": metrics.mel_log_spectral_distance(waves, back, sample_rate=sr).mean().item(),
        "MR-STFT": metrics.multi_resolution_stft_distance(waves, back).mean().item(),
        "inverse ms/note": per_note_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--soundfont", default=DEFAULT_SOUNDFONT)
    parser.add_argument("--out", default="results/representations.md")
    args = parser.parse_args()
    torch.set_num_threads(2)
    waves = render_notes(args.soundfont)
    rows = {name: measure(rep, waves) for name, rep in CANDIDATES.items()}
    columns = list(next(iter(rows.values())))
    lines = [
        f"Round trip wave -> representation -> inverse -> wave on {len(waves)} notes from {args.soundfont} "
        f"({len(PROGRAMS)} programs x pitches {list(PITCHES)}), {torch.get_num_threads()} CPU threads, "
        f"load average {os.getloadavg()[0]:.1f} when it finished (timings are upper bounds on a busy machine).",
        "",
        "| representation | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    lines += [f"| {name} | " + " | ".join(f"{v[c]:.3f}" for c in columns) + " |" for name, v in rows.items()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Examples per second of the on-the-fly log-mel pipeline (NSynthDataset + DataLoader) against librosa.

Peers, measured in the same run on the same notes:

* librosa, one process: ``librosa.load`` + ``librosa.feature.melspectrogram`` + ``librosa.power_to_db`` per note;
* librosa in a DataLoader with the same number of workers (so the comparison isolates the feature code);
* ours, one process: ``NSynthDataset(representation=LogMel())[i]`` in a loop;
* ours, log-mel per note inside the DataLoader workers (``NSynthDataset(representation=LogMel())``);
* ours, waveforms from the workers and log-mel on each batch in the main process.

Every process uses one thread (torch and BLAS): with more, librosa's mel matrix product slows down up to
50x on a busy 2-core machine. Features are the tagging front end (16 kHz, n_fft 512, hop 256, 96 mels up to
8 kHz, power dB); the script also prints the largest difference between ours and librosa's in dB. Without
``--data`` it renders a small NSynth-format dataset from TimGM6mb into a temporary folder first.

    PYTHONPATH=src python benchmarks/bench_dataloader.py [--data /tmp/nsynth-fluidr3] [--examples 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch.utils.data import DataLoader, Dataset, Subset

from spectrolab.audio.representations import LogMel, LogMelConfig
from spectrolab.data.nsynth import NSynthDataset
from spectrolab.data.nsynth_render import RenderConfig, render_nsynth
from spectrolab.data.soundfont import TEST_SOUNDFONT

CONFIG = LogMelConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, f_max=8000.0)


def librosa_logmel(path: Path) -> np.ndarray:
    """The same features with librosa: (n_mels, N) dB."""
    y, sr = librosa.load(path, sr=CONFIG.sample_rate)
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=CONFIG.n_fft, hop_length=CONFIG.hop_length, n_mels=CONFIG.n_mels, fmax=CONFIG.f_max, power=2.0
    )
    return librosa.power_to_db(mel, ref=1.0, amin=CONFIG.amin, top_db=None)


class LibrosaFeatures(Dataset[np.ndarray]):
    """librosa features of the notes of an NSynthDataset, for a DataLoader."""

    def __init__(self, notes: NSynthDataset, indices: list[int]) -> None:
        self.paths = [notes.audio_path(i) for i in indices]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        return librosa_logmel(self.paths[index])


def rate(run: Callable[[], Iterable[Any]], count: int) -> float:
    """Examples per second of draining ``run()``."""
    start = time.perf_counter()
    for _ in run():
        pass
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="NSynth-format folder (default: render a small one)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = Path(tmp) / "nsynth"
            config = RenderConfig(soundfont=TEST_SOUNDFONT, programs=(0, 24, 40, 56, 73), pitches=tuple(range(36, 84)))
            render_nsynth(config, root, workers=args.workers)
        run_benchmark(root, args)


def run_benchmark(root: Path, args: argparse.Namespace) -> None:
    waves = NSynthDataset(root, args.split, fields=("pitch",))
    indices = np.random.default_rng(0).permutation(len(waves))[: args.examples].tolist()
    count = len(indices)
    logmel = LogMel(CONFIG)
    in_workers = Subset(NSynthDataset(root, args.split, representation=logmel, fields=("pitch",)), indices)
    loader = {"batch_size": args.batch_size, "num_workers": args.workers}

    def ours_loop() -> Iterable[Any]:
        return (in_workers[i] for i in range(count))

    def ours_in_workers() -> Iterable[Any]:
        return DataLoader(in_workers, **loader)

    def ours_batched() -> Iterable[Any]:
        return (logmel(batch["input"]) for batch in DataLoader(Subset(waves, indices), **loader))

    def librosa_loop() -> Iterable[Any]:
        return (librosa_logmel(waves.audio_path(i)) for i in indices)

    def librosa_workers() -> Iterable[Any]:
        return DataLoader(LibrosaFeatures(waves, indices), **loader)

    for i in indices:  # read every file once, so that no peer pays for a cold disk cache
        waves.audio_path(i).read_bytes()
    ours = logmel(waves[indices[0]]["input"])[0, 0].numpy()
    reference = librosa_logmel(waves.audio_path(indices[0]))
    loud = reference > reference.max() - 80.0
    print(f"{count} notes from {root}/nsynth-{args.split}, batch {args.batch_size}, {args.workers} workers")
    print(
        f"|ours - librosa| on one note: largest {np.abs(ours - reference).max():.2e} dB, "
        f"largest within 80 dB of the peak {np.abs(ours - reference)[loud].max():.2e} dB"
    )
    librosa_loop_rate = rate(librosa_loop, count)
    rates = {
        "librosa, one process": librosa_loop_rate,
        f"librosa, DataLoader {args.workers} workers": rate(librosa_workers, count),
        "ours, one process": rate(ours_loop, count),
        f"ours, log-mel in {args.workers} workers": rate(ours_in_workers, count),
        f"ours, {args.workers} workers + batched log-mel": rate(ours_batched, count),
    }
    for name, value in rates.items():
        print(f"{name:42s} {value:8.1f} examples/s   x{value / librosa_loop_rate:5.2f} vs librosa loop")
    best = max(rates[k] for k in rates if k.startswith("ours"))
    same_workers = rates[f"librosa, DataLoader {args.workers} workers"]
    print(f"ratio ours / librosa, one process each: {rates['ours, one process'] / librosa_loop_rate:.2f}")
    print(f"ratio ours (best) / librosa loop: {best / librosa_loop_rate:.2f}")
    print(f"ratio ours (best) / librosa with the same workers: {best / same_workers:.2f}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):  # one BLAS thread per process for every peer (oversubscription costs 50x)
        main()

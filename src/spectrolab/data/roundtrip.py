"""An NSynth-format dataset of codec round trips: ``spectrolab data roundtrip``.

Each kept note (every ``every``-th of each split, in name order) is encoded and decoded by a codec, and the
decoded audio is written under the note's own name and example, with a ``roundtrip`` key naming the codec. A
tagger trained on these beside the clean notes (``spectrolab data merge``) learns to name what the editor's
decoder makes, not only what a sample library plays. ``roundtrip.json`` records the source, the codec (name
and weights digest) and the selection.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from spectrolab.audio import io
from spectrolab.codec.vqvae import Codec
from spectrolab.data.nsynth_format import EXAMPLES_FILE, SPLITS, read_examples, split_dir
from spectrolab.data.staging import check_new_folder, staged_folder
from spectrolab.errors import ConfigError, DataError

ROUNDTRIP_MANIFEST = "roundtrip.json"


@dataclass(frozen=True)
class RoundTripReport:
    """Notes written per split, the folder, the wall time, and how many outputs exceed full scale (those are
    written as float WAV rather than clipped)."""

    notes: dict[str, int]
    out_dir: Path
    seconds: float
    over_full_scale: int


def _kept(examples: dict[str, dict], every: int) -> list[str]:
    return sorted(examples)[::every]


def roundtrip_nsynth(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    codec: Codec,
    every: int = 1,
    batch_size: int = 16,
    force: bool = False,
    progress: bool = False,
) -> RoundTripReport:
    """Write the codec round trip of every ``every``-th note of each split of ``source`` into ``out``.

    Notes of one batch must share a length (NSynth notes do). The output is built beside ``out`` and moved
    into place at the end; an existing ``out`` is refused unless ``force``.
    """
    if every < 1 or batch_size < 1:
        raise ConfigError(f"every and batch_size must be at least 1, got {every} and {batch_size}")
    root = Path(source)
    check_new_folder(Path(out), force=force)
    examples = {split: read_examples(split_dir(root, split)) for split in SPLITS}
    started, over, counts = time.perf_counter(), 0, {}
    stamp = {"codec": codec.name, "sha256": codec.weights_sha256}
    total = sum(len(_kept(e, every)) for e in examples.values())
    with staged_folder(out, force=force) as tmp, tqdm(total=total, unit="note", disable=not progress) as bar:
        for split in SPLITS:
            names = _kept(examples[split], every)
            audio_in, audio_out = split_dir(root, split) / "audio", tmp / f"nsynth-{split}" / "audio"
            audio_out.mkdir(parents=True)
            for first in range(0, len(names), batch_size):
                batch = names[first : first + batch_size]
                waves = [io.load(audio_in / f"{name}.wav", sample_rate=codec.sample_rate)[0] for name in batch]
                if len({w.shape[-1] for w in waves}) != 1:
                    raise DataError(f"{audio_in}: notes {batch[0]}..{batch[-1]} differ in length; cannot batch them")
                with torch.inference_mode():
                    decoded = codec.decode(codec.encode(torch.stack(waves)))
                for name, wave in zip(batch, decoded, strict=True):
                    over += int(wave.abs().max() > 1.0)
                    io.save(audio_out / f"{name}.wav", wave, sample_rate=codec.sample_rate)
                bar.update(len(batch))
            kept = {n: {**examples[split][n], "sample_rate": codec.sample_rate, "roundtrip": stamp} for n in names}
            (tmp / f"nsynth-{split}" / EXAMPLES_FILE).write_text(json.dumps(kept, sort_keys=True))
            counts[split] = len(kept)
        manifest = {"source": str(root.resolve()), **stamp, "every": every, "notes": counts}
        (tmp / ROUNDTRIP_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return RoundTripReport(counts, Path(out), time.perf_counter() - started, over)

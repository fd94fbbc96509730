"""The NSynth format and a dataset reading it: the real NSynth and the ones ``spectrolab data render`` writes.

Layout (as the real NSynth)::

    DIR/nsynth-train/examples.json      {note_str: example}
    DIR/nsynth-train/audio/<note_str>.wav
    DIR/nsynth-valid/...  DIR/nsynth-test/...

An example holds exactly NSynth's keys: ``note``, ``note_str`` (``"guitar_acoustic_024-060-100"``),
``instrument``, ``instrument_str`` (``"guitar_acoustic_024"``), ``pitch``, ``velocity``, ``sample_rate``,
``qualities`` (10 flags), ``qualities_str``, ``instrument_family`` (+ ``_str``), ``instrument_source``
(+ ``_str``). Family and source indices follow :data:`NSYNTH_FAMILIES` and :data:`NSYNTH_SOURCES`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from spectrolab.audio import io
from spectrolab.data.nsynth_format import (  # noqa: F401  (re-exported)
    EXAMPLES_FILE,
    NSYNTH_FAMILIES,
    NSYNTH_KEYS,
    NSYNTH_QUALITIES,
    NSYNTH_SOURCES,
    SPLITS,
    read_examples,
    split_dir,
)
from spectrolab.errors import ConfigError, DataError


def _matches(example: Mapping[str, Any], filters: Mapping[str, Collection[Any]]) -> bool:
    return all(example[key] in allowed for key, allowed in filters.items())


class NSynthDataset(Dataset[dict[str, Any]]):
    """Notes of one NSynth split, loaded on access, optionally turned into spectrograms on the fly.

    Args:
        root: dataset folder holding ``nsynth-<split>/``, or a split folder itself (holding examples.json).
        split: ``"train"``, ``"valid"`` or ``"test"`` (ignored when ``root`` is a split folder).
        representation: module mapping (B, T) waveforms to (B, ch, F, N), e.g. ``LogMel()``; ``None`` returns
            waveforms.
        fields: example keys returned with each item, e.g. ``("instrument_family", "pitch")``.
        filters: keep only examples whose value for each key is in the given collection, e.g.
            ``{"instrument_family_str": {"guitar", "bass"}, "pitch": range(24, 85)}``.
        label_maps: per field, a mapping from raw value to class index (e.g. instrument ids to 0..K-1);
            examples whose value is not in the map are dropped.
        sample_rate: audio is resampled to this rate if a file differs.

    Items are dicts: ``"input"`` (T,) float32 waveform or (ch, F, N) spectrogram, ``"note_str"``, and each
    field (integers as int64 tensors, lists as int64 tensors, strings as str), so the default collate works.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        representation: nn.Module | None = None,
        fields: Sequence[str] = ("instrument_family", "pitch"),
        filters: Mapping[str, Collection[Any]] | None = None,
        label_maps: Mapping[str, Mapping[Any, int]] | None = None,
        sample_rate: int = 16000,
    ) -> None:
        root = Path(root)
        self.folder = root if (root / EXAMPLES_FILE).is_file() else split_dir(root, split)
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: no such dataset folder (render one with `spectrolab data render`)")
        examples = read_examples(self.folder)
        self.fields = tuple(fields)
        self.label_maps = {key: dict(mapping) for key, mapping in (label_maps or {}).items()}
        filters = dict(filters or {})
        for key in (*self.fields, *filters, *self.label_maps):
            if key not in NSYNTH_KEYS:
                raise ConfigError(f"'{key}' is not an NSynth example key; use one of {', '.join(sorted(NSYNTH_KEYS))}")
        keep = ("note_str", *self.fields)  # only what items need: the real NSynth train split has 289k notes
        self.examples = [
            {key: examples[k][key] for key in keep}
            for k in sorted(examples)
            if _matches(examples[k], filters) and _matches(examples[k], self.label_maps)
        ]
        self.representation = representation
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.examples)

    def values(self, field: str) -> list[Any]:
        """Sorted distinct values of one of ``fields`` among the kept examples (e.g. to build a label map)."""
        if field not in self.fields:
            raise ConfigError(f"'{field}' is not one of this dataset's fields {self.fields}")
        return sorted({example[field] for example in self.examples})

    def audio_path(self, index: int) -> Path:
        return self.folder / "audio" / f"{self.examples[index]['note_str']}.wav"

    def _field(self, example: Mapping[str, Any], key: str) -> Any:
        value = example[key]
        if key in self.label_maps:
            value = self.label_maps[key][value]
        return value if isinstance(value, str) else torch.as_tensor(value, dtype=torch.int64)

    def __getitem__(self, index: int) -> dict[str, Any]:
        example = self.examples[index]
        wave = io.load(self.audio_path(index), sample_rate=self.sample_rate)[0]
        if self.representation is not None:
            with torch.no_grad():
                wave = self.representation(wave[None])[0]
        item: dict[str, Any] = {"input": wave, "note_str": example["note_str"]}
        item.update({key: self._field(example, key) for key in self.fields})
        return item

"""Tag audio files with a trained tagger directory: song-level scores, top tags, chunk scores over time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spectrolab.audio import io
from spectrolab.errors import AudioError, ModelError
from spectrolab.models import load_model_dir
from spectrolab.paths import DEFAULT_TAGGER
from spectrolab.tag.aggregate import Aggregation, aggregate, probabilities
from spectrolab.tag.inference import song_chunk_logits

# Shorter files are refused: there is too little sound to tag, whatever the padding.
MIN_TAG_SECONDS = 0.25
# Files whose peak stays below this are reported as silent rather than tagged.
SILENCE_DBFS = -80.0


@dataclass(frozen=True)
class Tagger:
    """A tagging model with what is needed to use it: label names, task type, rate and chunk length."""

    model: nn.Module
    labels: list[str]
    multilabel: bool
    sample_rate: int
    input_length: int
    aggregation: str = "mean"


def model_int(model: nn.Module, name: str) -> int:
    """The integer attribute ``name`` (``sample_rate``, ``input_length``, ``num_classes``) every tagger has."""
    value = getattr(model, name, None)
    if value is None:
        raise ModelError(f"{type(model).__name__} has no '{name}'; it is not a tagging model")
    return int(value)


def tagger_from_model(model: nn.Module, metadata: dict[str, Any]) -> Tagger:
    """A :class:`Tagger` from a model and the metadata saved with it (``labels``, ``multilabel``)."""
    if "labels" not in metadata:
        raise ModelError("this model's metadata has no 'labels'; it is not a tagger trained by spectrolab")
    labels = list(metadata["labels"])
    outputs = model_int(model, "num_classes")
    if len(labels) != outputs:
        raise ModelError(f"metadata has {len(labels)} labels but the model has {outputs} outputs")
    return Tagger(
        model=model.eval(),
        labels=labels,
        multilabel=bool(metadata.get("multilabel", True)),
        sample_rate=model_int(model, "sample_rate"),
        input_length=model_int(model, "input_length"),
        aggregation=str(metadata.get("aggregation", "mean")),
    )


def load_tagger(directory: str | os.PathLike[str] = DEFAULT_TAGGER) -> Tagger:
    """Load a tagger model directory (``model.safetensors`` + ``config.json`` with labels in the metadata)."""
    loaded = load_model_dir(directory)
    return tagger_from_model(loaded.model, loaded.metadata)


@dataclass(frozen=True)
class TagPrediction:
    """Song-level ``scores`` (C,) of one file and the ``chunk_scores`` (N, C) of its consecutive chunks (the
    last one zero-padded), ``seconds`` of audio; ``silent`` files (peak below :data:`SILENCE_DBFS`) are scored
    but not tagged."""

    path: Path
    labels: list[str]
    scores: torch.Tensor
    chunk_scores: torch.Tensor
    chunk_seconds: float
    seconds: float = 0.0
    silent: bool = False

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` best labels and their scores, best first (none for a silent file)."""
        if self.silent:
            return []
        values, indices = torch.topk(self.scores, min(k, len(self.labels)))
        return [(self.labels[i], float(v)) for v, i in zip(values.tolist(), indices.tolist(), strict=True)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "seconds": round(self.seconds, 6),
            "silent": self.silent,
            "scores": {label: round(float(s), 6) for label, s in zip(self.labels, self.scores, strict=True)},
            "chunk_seconds": self.chunk_seconds,
            "chunk_scores": [[round(float(s), 6) for s in row] for row in self.chunk_scores],
        }


def predict_files(
    tagger: Tagger,
    paths: list[str | os.PathLike[str]],
    *,
    how: Aggregation | None = None,
    batch_size: int = 32,
) -> list[TagPrediction]:
    """Tag each file: its non-overlapping chunks (the last one zero-padded) are scored, chunks of all files
    batched together, and aggregated ``how`` (default: the tagger's own aggregation). Files shorter than
    :data:`MIN_TAG_SECONDS` are refused (:class:`AudioError`); silent ones are marked ``silent``."""
    waves = [io.load(p, sample_rate=tagger.sample_rate)[0] for p in paths]
    for path, wave in zip(paths, waves, strict=True):
        if wave.shape[-1] < MIN_TAG_SECONDS * tagger.sample_rate:
            raise AudioError(
                f"{path}: {wave.shape[-1] / tagger.sample_rate:.3f} s of audio is too short to tag "
                f"(at least {MIN_TAG_SECONDS:g} s; the model takes {tagger.input_length / tagger.sample_rate:g} s "
                "chunks and pads shorter ones)"
            )
    floor = 10.0 ** (SILENCE_DBFS / 20.0)
    per_track = song_chunk_logits(tagger.model, waves, length=tagger.input_length, batch_size=batch_size)
    method: Aggregation = how or tagger.aggregation  # type: ignore[assignment]
    return [
        TagPrediction(
            path=Path(path),
            labels=tagger.labels,
            scores=aggregate(logits, how=method, multilabel=tagger.multilabel),
            chunk_scores=probabilities(logits, multilabel=tagger.multilabel),
            chunk_seconds=tagger.input_length / tagger.sample_rate,
            seconds=wave.shape[-1] / tagger.sample_rate,
            silent=bool(wave.abs().max() < floor),
        )
        for path, wave, logits in zip(paths, waves, per_track, strict=True)
    ]

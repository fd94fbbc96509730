"""Song-level evaluation of a tagger on a split: chunk, score, aggregate per track, then compute metrics."""

from __future__ import annotations

import torch

from spectrolab.audio import io
from spectrolab.data.tracks import TrackSet
from spectrolab.errors import DataError
from spectrolab.tag.aggregate import Aggregation
from spectrolab.tag.inference import song_scores
from spectrolab.tag.metrics import TaggingScores, accuracy, multilabel_scores
from spectrolab.tag.predict import Tagger


def evaluate_tagger(
    tagger: Tagger,
    tracks: TrackSet,
    *,
    how: Aggregation = "mean",
    num_chunks: int | None = None,
    batch_size: int = 32,
    tracks_per_batch: int = 8,
) -> TaggingScores:
    """Macro ROC-AUC/PR-AUC (multi-label) or accuracy (single-label) of ``tagger`` on ``tracks``."""
    if tracks.labels != tagger.labels:
        raise DataError(f"the data's labels {tracks.labels[:5]}... differ from the tagger's {tagger.labels[:5]}...")
    scores = []
    for first in range(0, len(tracks), tracks_per_batch):
        waves = [io.load(f, sample_rate=tagger.sample_rate)[0] for f in tracks.files[first : first + tracks_per_batch]]
        scores.append(
            song_scores(
                tagger.model,
                waves,
                length=tagger.input_length,
                multilabel=tagger.multilabel,
                how=how,
                num_chunks=num_chunks,
                batch_size=batch_size,
            )
        )
    all_scores = torch.cat(scores)
    return multilabel_scores(all_scores, tracks.targets) if tracks.multilabel else accuracy(all_scores, tracks.targets)

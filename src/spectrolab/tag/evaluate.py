"""Song-level evaluation of a tagger on a split: chunk, score, aggregate per track, then compute metrics."""

from __future__ import annotations

import torch

from spectrolab.audio import io
from spectrolab.data.tracks import TrackSet
from spectrolab.errors import DataError
from spectrolab.tag.aggregate import Aggregation
from spectrolab.tag.inference import song_scores
from spectrolab.tag.metrics import TaggingScores, multilabel_scores, single_label_scores
from spectrolab.tag.predict import Tagger


def label_columns(data_labels: list[str], tagger_labels: list[str]) -> list[int]:
    """The index of each of the data's labels among the tagger's; :class:`DataError` naming those it lacks."""
    missing = [label for label in data_labels if label not in tagger_labels]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise DataError(
            f"the tagger's {len(tagger_labels)} labels lack {len(missing)} of the data's {len(data_labels)}: {shown}; "
            "evaluate a tagger trained on this kind of data"
        )
    return [tagger_labels.index(label) for label in data_labels]


def evaluate_tagger(
    tagger: Tagger,
    tracks: TrackSet,
    *,
    how: Aggregation = "mean",
    num_chunks: int | None = None,
    batch_size: int = 32,
    tracks_per_batch: int = 8,
) -> TaggingScores:
    """Macro ROC-AUC/PR-AUC (multi-label), or accuracy and one-vs-rest ROC-AUC/PR-AUC (single-label), of
    ``tagger`` on ``tracks``.

    The tagger's labels must include the data's; a tagger with more (the shipped clip tagger on NSynth notes,
    whose 11 families are among its 17 tags) is scored on the data's labels only.
    """
    columns = label_columns(tracks.labels, tagger.labels)
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
    all_scores = torch.cat(scores)[:, columns]
    if tracks.multilabel:
        return multilabel_scores(all_scores, tracks.targets, labels=list(tracks.labels))
    return single_label_scores(all_scores, tracks.targets, labels=list(tracks.labels))

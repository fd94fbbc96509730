"""Taggram: the chunk-level tag probabilities of a file drawn over time (tags x chunks) as a PNG."""

from __future__ import annotations

import io
import os
from pathlib import Path

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.tag.predict import TagPrediction


def save_taggram(
    prediction: TagPrediction, path: str | os.PathLike[str], *, top: int | None = 20, force: bool = False
) -> Path:
    """Write the taggram of ``prediction`` to ``path`` (PNG), showing its ``top`` best tags (all if ``None``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = prediction.scores.argsort(descending=True)[: top or len(prediction.labels)]
    grid = prediction.chunk_scores[:, order].T.numpy()
    seconds = prediction.chunk_scores.shape[0] * prediction.chunk_seconds  # the last chunk is padded
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(order) + 1.5))
    image = ax.imshow(
        grid, aspect="auto", origin="upper", vmin=0, vmax=1, cmap="magma", extent=(0, seconds, len(order), 0)
    )
    ax.set_yticks([i + 0.5 for i in range(len(order))], [prediction.labels[i] for i in order.tolist()])
    ax.set_xlim(0, prediction.seconds or seconds)  # the padded end of the last chunk is cut off
    ax.set_xlabel("time (s)")
    ax.set_title(prediction.path.name)
    fig.colorbar(image, ax=ax, label="probability")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue(), force=force)

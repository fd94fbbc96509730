"""Before/after figure of a blur edit: both log-mel spectrograms with the code grid and the region drawn."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from spectrolab.audio.representations import Representation
from spectrolab.edit.blur import BlurResult
from spectrolab.plot import Panel, draw_panel, figure_to_png


def _draw_grid(ax: Axes, result: BlurResult, row_hz: np.ndarray) -> None:
    """Cell boundaries of the edited level and the region, on an axis whose y unit is the spectrogram row."""
    grid = result.original.levels[result.level]
    rows = np.arange(len(row_hz))
    y_of = lambda hz: float(np.interp(hz, row_hz, rows))  # noqa: E731
    for edge in grid.row_edges_hz[1:-1]:
        ax.axhline(y_of(edge), color="white", lw=0.6, alpha=0.6)
    for col in range(1, grid.shape[1]):
        ax.axvline(col * grid.seconds_per_cell, color="white", lw=0.6, alpha=0.6)
    r = result.region
    low, high = y_of(r.low_hz), y_of(r.high_hz)
    ax.add_patch(Rectangle((r.start_s, low), r.stop_s - r.start_s, high - low, fill=False, ec="cyan", lw=1.5))


def plot_blur(
    result: BlurResult,
    before: torch.Tensor,
    *,
    representation: Representation,
    path: str | os.PathLike[str],
    force: bool = False,
) -> Path:
    """Write a PNG with the spectrogram of ``before`` (1, T) and of ``result.wave``, grid and region drawn."""
    row_hz = representation.frequencies()
    seconds = before.shape[-1] / representation.sample_rate
    with torch.inference_mode():
        images = [representation(wave)[0, 0] for wave in (before, result.wave)]
    cells = result.cells
    titles = [
        "before",
        f"after: {cells.num_cells} cells resampled ({result.changed_cells} changed), level {result.level}",
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), squeeze=False)
    for ax, image, title in zip(axes[0], images, titles, strict=True):
        draw_panel(ax, Panel(image, title, seconds, row_hz))
        _draw_grid(ax, result, row_hz.numpy())
    axes[0, 0].set_ylabel("frequency (Hz)")
    return figure_to_png(fig, path, force=force)

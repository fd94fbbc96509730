"""Before/after figure of a blur edit: both log-mel spectrograms with the code grid and the region drawn.

The original is on the left, labelled so; both panels share one colour scale, shown by a colour bar. Cell
boundaries are drawn only along an axis whose cells are at least :data:`MIN_CELL_PIXELS` wide on the page
(a 5-minute file has over a thousand columns). The region's frame is drawn above the axes' edges, so a
region covering the whole sound stays visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from spectrolab.audio.representations import Representation
from spectrolab.edit.blur import BlurResult
from spectrolab.plot import Panel, draw_panel, save_figure

# Cell boundaries are drawn along an axis only if its cells are at least this many pixels apart.
MIN_CELL_PIXELS = 4.0


def draws_cell_lines(cells: int, axis_pixels: float) -> bool:
    """Whether ``cells`` cells across ``axis_pixels`` pixels are wide enough for their boundaries to be drawn."""
    return cells > 1 and axis_pixels / cells >= MIN_CELL_PIXELS


def _rows_of(row_hz: np.ndarray) -> Callable[[float], float]:
    """Frequency (Hz) -> image y (row units, row centres at integers), 0 Hz and Nyquist at the image edges."""
    rows = np.arange(len(row_hz), dtype=float)
    hz = np.concatenate([[0.0], row_hz, [row_hz[-1] + (row_hz[-1] - row_hz[-2])]])
    y = np.concatenate([[-0.5], rows, [len(row_hz) - 0.5]])
    return lambda value: float(np.interp(value, hz, y))


def _draw_grid(ax: Axes, result: BlurResult, row_hz: np.ndarray) -> None:
    """Cell boundaries of the edited level (where wide enough) and the region, on an axis whose y unit is the
    spectrogram row."""
    grid = result.original.levels[result.level]
    y_of = _rows_of(row_hz)
    box = ax.get_window_extent()
    height, width = grid.shape
    if draws_cell_lines(height, box.height):
        for edge in grid.row_edges_hz[1:-1]:
            ax.axhline(y_of(edge), color="white", lw=0.6, alpha=0.6)
    if draws_cell_lines(width, box.width):
        for col in range(1, width):
            ax.axvline(col * grid.seconds_per_cell, color="white", lw=0.6, alpha=0.6)
    r = result.region
    low, high = y_of(r.low_hz), y_of(r.high_hz)
    frame = Rectangle((r.start_s, low), r.stop_s - r.start_s, high - low, fill=False, ec="cyan", lw=2.0)
    frame.set_clip_on(False)  # on the axes' edges when the region is the whole sound: drawn over them
    frame.set_zorder(5)
    ax.add_patch(frame)


def blur_figure(result: BlurResult, before: torch.Tensor, *, representation: Representation) -> Figure:
    """The figure :func:`plot_blur` writes: the spectrogram of ``before`` (1, T) and of ``result.wave``."""
    row_hz = representation.frequencies()
    seconds = before.shape[-1] / representation.sample_rate
    with torch.inference_mode():
        images = [representation(wave)[0, 0] for wave in (before, result.wave)]
    low, high = min(float(i.min()) for i in images), max(float(i.max()) for i in images)
    cells = result.cells
    titles = [
        "before: the original",
        f"after: {cells.num_cells} cells resampled ({result.changed_cells} changed), level {result.level}",
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), squeeze=False, layout="constrained")
    for ax, image, title in zip(axes[0], images, titles, strict=True):
        shown = draw_panel(ax, Panel(image, title, seconds, row_hz), vmin=low, vmax=high)
        _draw_grid(ax, result, row_hz.numpy())
    axes[0, 0].set_ylabel("frequency (Hz)")
    fig.colorbar(shown, ax=axes[0].tolist(), label="log-mel magnitude", shrink=0.9)
    return fig


def plot_blur(
    result: BlurResult,
    before: torch.Tensor,
    *,
    representation: Representation,
    path: str | os.PathLike[str],
    force: bool = False,
) -> Path:
    """Write the before/after figure (:func:`blur_figure`) to ``path`` as PNG, JPEG, SVG or PDF by its
    extension (others raise :class:`ConfigError`)."""
    return save_figure(blur_figure(result, before, representation=representation), path, force=force)

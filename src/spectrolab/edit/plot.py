"""Before/after figure of an edit, at the input's own rate: both spectrograms with the code grid, the
resampled cells and the mask's soft edges drawn.

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

from spectrolab.audio import io
from spectrolab.audio.representations import LogMel, LogMelConfig
from spectrolab.edit.composite import stft_size
from spectrolab.edit.editor import EditResult
from spectrolab.plot import Panel, draw_panel, save_figure

# Cell boundaries are drawn along an axis only if its cells are at least this many pixels apart.
MIN_CELL_PIXELS = 4.0
_MAX_FRAMES = 1200
_DYNAMIC_RANGE_DB = 90.0


def draws_cell_lines(cells: int, axis_pixels: float) -> bool:
    """Whether ``cells`` cells across ``axis_pixels`` pixels are wide enough for their boundaries to be drawn."""
    return cells > 1 and axis_pixels / cells >= MIN_CELL_PIXELS


def input_rate_spectrogram(audio: io.NativeAudio) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel (dB) of the mono mix at the audio's own rate, up to its Nyquist, with at most ~1200 frames:
    the image (F, N) and each row's centre frequency (F,)."""
    rate = audio.sample_rate
    n_fft = stft_size(rate)
    hop = max(n_fft // 4, -(-audio.frames // _MAX_FRAMES))
    rep = LogMel(LogMelConfig(sample_rate=rate, n_fft=n_fft, hop_length=hop, n_mels=160, f_max=None, htk=True))
    wave = torch.from_numpy(audio.mono()).float()[None]
    with torch.inference_mode():
        image = rep(wave)[0, 0]
    return image, rep.frequencies()


def _rows_of(row_hz: np.ndarray) -> Callable[[float], float]:
    """Frequency (Hz) -> image y (row units, row centres at integers), 0 Hz and Nyquist at the image edges."""
    rows = np.arange(len(row_hz), dtype=float)
    hz = np.concatenate([[0.0], row_hz, [row_hz[-1] + (row_hz[-1] - row_hz[-2])]])
    y = np.concatenate([[-0.5], rows, [len(row_hz) - 0.5]])
    return lambda value: float(np.interp(value, hz, y))


def _frame(ax: Axes, start: float, stop: float, low: float, high: float, **style: object) -> None:
    """A rectangle drawn over the axes' edges (so a region covering the whole sound stays visible)."""
    frame = Rectangle((start, low), stop - start, high - low, fill=False, ec="cyan", **style)  # type: ignore[arg-type]
    frame.set_clip_on(False)
    frame.set_zorder(5)
    ax.add_patch(frame)


def _draw_cells(ax: Axes, result: EditResult, row_hz: np.ndarray, *, seconds: float) -> None:
    """Cell boundaries (where wide enough), the resampled cells (solid) and the mask's extent (dashed)."""
    grid = result.original.levels[result.level]
    y_of = _rows_of(row_hz)
    box = ax.get_window_extent()
    edges = [y_of(e) for e in grid.row_edges_hz]
    columns = int(np.ceil(seconds / grid.seconds_per_cell))
    grid_top = (edges[-1] + 0.5) / len(row_hz)
    if draws_cell_lines(grid.shape[0], box.height * grid_top):
        for y in edges[1:-1]:
            ax.axhline(y, color="white", lw=0.5, alpha=0.5)
    if draws_cell_lines(columns, box.width):
        for col in range(1, columns):
            ax.axvline(col * grid.seconds_per_cell, ymax=grid_top, color="white", lw=0.5, alpha=0.5)
    r = result.region
    _frame(ax, r.start_s, r.stop_s, y_of(r.low_hz), y_of(r.high_hz), lw=2.0)
    if result.support is not None:
        s = result.support
        _frame(ax, max(s.start_s, 0.0), min(s.stop_s, seconds), y_of(s.low_hz), y_of(s.high_hz), lw=0.9, ls="--")


def edit_figure(result: EditResult, before: io.NativeAudio) -> Figure:
    """The figure :func:`plot_edit` writes: ``before`` (the original) and ``result.audio`` at their own rate."""
    seconds = before.duration
    (image_a, hz), (image_b, _) = (input_rate_spectrogram(a) for a in (before, result.audio))
    high = float(max(image_a.max(), image_b.max()))
    low = high - _DYNAMIC_RANGE_DB
    c = result.cells
    how = "resynthesised by the codec" if result.resynthesized else "pasted into the original"
    titles = [
        f"before: the original ({before.sample_rate} Hz, {before.channels} ch, {before.subtype})",
        f"after: {c.num_cells} cells resampled ({result.changed_cells} changed), {how}",
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False, layout="constrained")
    for ax, image, title in zip(axes[0], (image_a, image_b), titles, strict=True):
        shown = draw_panel(ax, Panel(image.clamp_min(low), title, seconds, hz), vmin=low, vmax=high)
        _draw_cells(ax, result, hz.numpy(), seconds=seconds)
    axes[0, 0].set_ylabel("frequency (Hz)")
    fig.colorbar(shown, ax=axes[0].tolist(), label="log-mel power (dB)", shrink=0.9)
    return fig


def plot_edit(result: EditResult, before: io.NativeAudio, *, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write the before/after figure (:func:`edit_figure`) to ``path`` as PNG, JPEG, SVG or PDF by its
    extension (others raise :class:`ConfigError`)."""
    return save_figure(edit_figure(result, before), path, force=force)

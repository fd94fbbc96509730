"""Before/after figure of an edit, at the input's own rate: both spectrograms with the code grid, the region
and the mask's soft edges drawn."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from spectrolab.audio import io
from spectrolab.audio.representations import LogMel, LogMelConfig
from spectrolab.edit.composite import stft_size
from spectrolab.edit.editor import EditResult
from spectrolab.plot import Panel, draw_panel, figure_to_png

# Grid lines are drawn only where cells are at least this many pixels apart (a long file's would fill the plot).
MIN_CELL_PIXELS = 4.0
_MAX_FRAMES = 1200
_DYNAMIC_RANGE_DB = 90.0


def input_rate_spectrogram(audio: io.NativeAudio) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel (dB) of the mono mix at the audio's own rate, up to its Nyquist, with at most ~1200 frames:
    the image (F, N) and each row's centre frequency (F,)."""
    rate = audio.sample_rate
    n_fft = stft_size(rate)
    hop = max(n_fft // 4, -(-audio.frames // _MAX_FRAMES))
    config = LogMelConfig(sample_rate=rate, n_fft=n_fft, hop_length=hop, n_mels=160, f_max=None, htk=True)
    rep = LogMel(config)
    wave = torch.from_numpy(audio.to_float().mean(0)).float()[None]
    with torch.inference_mode():
        image = rep(wave)[0, 0]
    return image, rep.frequencies()


def _draw_cells(ax: Axes, result: EditResult, row_hz: np.ndarray, *, seconds: float) -> None:
    """Cell boundaries (where cells are wide enough to see), the resampled cells and the mask's extent."""
    grid = result.original.levels[result.level]
    rows = np.arange(len(row_hz))
    y_of = lambda hz: float(np.interp(hz, row_hz, rows))  # noqa: E731
    box_px = ax.get_window_extent()
    spc = grid.seconds_per_cell
    grid_top = (y_of(grid.row_edges_hz[-1]) + 0.5) / len(rows)
    if spc / seconds * box_px.width >= MIN_CELL_PIXELS:
        for col in range(1, int(np.ceil(seconds / spc))):
            ax.axvline(col * spc, ymax=grid_top, color="white", lw=0.4, alpha=0.5)
    row_px = np.diff([y_of(e) for e in grid.row_edges_hz]).min() / len(rows) * box_px.height
    if row_px >= MIN_CELL_PIXELS:
        for edge in grid.row_edges_hz[1:]:
            ax.axhline(y_of(edge), xmax=1.0, color="white", lw=0.4, alpha=0.5)
    r = result.region
    low, high = y_of(r.low_hz), y_of(r.high_hz)
    box = Rectangle((r.start_s, low), r.stop_s - r.start_s, high - low, fill=False, ec="cyan", lw=1.6, clip_on=False)
    ax.add_patch(box)
    if result.support is not None:
        s = result.support
        low, high = y_of(max(s.low_hz, row_hz[0])), y_of(min(s.high_hz, row_hz[-1]))
        start, stop = max(s.start_s, 0.0), min(s.stop_s, seconds)
        ax.add_patch(
            Rectangle((start, low), stop - start, high - low, fill=False, ec="cyan", lw=0.9, ls="--", clip_on=False)
        )


def plot_edit(result: EditResult, before: io.NativeAudio, *, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write a figure with the spectrograms of ``before`` (the original) and of ``result.audio``, at their own
    rate, with the edited level's cells, the resampled cells (solid) and the mask's soft edges (dashed)."""
    seconds = before.duration
    images, row_hz = zip(*(input_rate_spectrogram(a) for a in (before, result.audio)), strict=True)
    top = float(max(image.max() for image in images))
    c = result.cells
    how = "resynthesised by the codec" if result.resynthesized else "pasted into the original"
    titles = [
        f"original ({before.sample_rate} Hz, {before.channels} ch, {before.subtype})",
        f"edited: {c.num_cells} cells resampled ({result.changed_cells} changed), {how}",
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False, layout="constrained")
    for ax, image, hz, title in zip(axes[0], images, row_hz, titles, strict=True):
        draw_panel(ax, Panel(image.clamp_min(top - _DYNAMIC_RANGE_DB), title, seconds, hz), vmax=top)
        _draw_cells(ax, result, hz.numpy(), seconds=seconds)
    axes[0, 0].set_ylabel("frequency (Hz)")
    fig.colorbar(axes[0, 1].images[0], ax=axes[0].tolist(), label="dB", shrink=0.9)
    return figure_to_png(fig, path, force=force)

"""Figures: spectrogram images written atomically as PNG, JPEG, SVG or PDF, by the path's extension
(matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

import io as _io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.errors import ConfigError

# Figure formats by file extension (matplotlib's format names).
FIGURE_FORMATS: dict[str, str] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg", ".pdf": "pdf"}


@dataclass(frozen=True)
class Panel:
    """One spectrogram image (F, N), low frequencies first; ``row_hz`` (F,) is each row's centre frequency."""

    image: torch.Tensor
    title: str
    seconds: float
    row_hz: torch.Tensor


_TICKS_HZ = (50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000, 20000)


def draw_panel(
    ax: Axes, panel: Panel, *, cmap: str = "magma", vmin: float | None = None, vmax: float | None = None
) -> Any:
    """Draw ``panel`` on ``ax``: time in seconds, rows labelled with their frequency in Hz; returns the image
    (for a colour bar)."""
    rows = panel.image.shape[0]
    image = ax.imshow(
        panel.image.detach().cpu().float().numpy(),
        origin="lower",
        aspect="auto",
        cmap=cmap,
        extent=(0.0, panel.seconds, -0.5, rows - 0.5),
        interpolation="nearest",
        vmin=vmin,
        vmax=vmax,
    )
    hz = panel.row_hz.detach().cpu().numpy()
    ticks = [hz_tick for hz_tick in _TICKS_HZ if hz[0] <= hz_tick <= hz[-1]]
    ax.set_yticks(np.interp(ticks, hz, np.arange(rows)), [f"{t / 1000:g}k" if t >= 1000 else str(t) for t in ticks])
    ax.set_title(panel.title, fontsize=9)
    ax.set_xlabel("time (s)")
    return image


def figure_format(path: str | os.PathLike[str]) -> str:
    """The figure format of ``path``'s extension; raises :class:`ConfigError` for any other extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise ConfigError(
            f"{path}: figures are written as {', '.join(FIGURE_FORMATS)}; not '{suffix or 'no extension'}'"
        )
    return FIGURE_FORMATS[suffix]


def save_figure(fig: plt.Figure, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Render ``fig`` in the format of ``path``'s extension (:func:`figure_format`) and write it atomically;
    closes the figure."""
    try:
        kind = figure_format(path)
        buffer = _io.BytesIO()
        fig.savefig(buffer, format=kind, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue(), force=force)


figure_to_png = save_figure  # the earlier name, when every figure was a PNG


def save_panels(panels: Sequence[Panel], path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Side-by-side spectrogram panels in one PNG."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        draw_panel(ax, panel)
    axes[0, 0].set_ylabel("frequency (Hz)")
    return save_figure(fig, path, force=force)

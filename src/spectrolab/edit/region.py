"""Edit regions: rectangles in seconds and Hz, and the rectangles of grid cells they cover.

A grid level places its columns every ``seconds_per_cell`` seconds from 0 and its rows between ``row_edges_hz``
(H + 1 increasing band edges, row 0 lowest). A :class:`Region` covers the cells it overlaps; a
:class:`CellRegion` maps back to the exact span of its cells, so cells -> region -> cells is the identity.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from spectrolab.errors import ConfigError, SpectrolabWarning

# Relative slack, in cells, for boundaries that fall on a cell edge up to floating-point error.
_EDGE_SLACK = 1e-6


@dataclass(frozen=True)
class Region:
    """A time-frequency rectangle: ``[start_s, stop_s)`` seconds by ``[low_hz, high_hz)`` Hz."""

    start_s: float
    stop_s: float
    low_hz: float
    high_hz: float

    def __post_init__(self) -> None:
        values = (self.start_s, self.stop_s, self.low_hz, self.high_hz)
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(f"region bounds must be finite numbers, got {values}")
        if self.stop_s <= self.start_s:
            raise ConfigError(
                f"region time span {self.start_s}:{self.stop_s} s is empty or inverted (need start < stop)"
            )
        if self.high_hz <= self.low_hz:
            raise ConfigError(
                f"region frequency span {self.low_hz}:{self.high_hz} Hz is empty or inverted (need low < high)"
            )


@dataclass(frozen=True)
class CellRegion:
    """A rectangle of grid cells: rows ``[row_start, row_stop)`` by columns ``[col_start, col_stop)``."""

    row_start: int
    row_stop: int
    col_start: int
    col_stop: int

    def __post_init__(self) -> None:
        if not (0 <= self.row_start < self.row_stop and 0 <= self.col_start < self.col_stop):
            raise ConfigError(
                f"cell region rows {self.row_start}:{self.row_stop}, columns {self.col_start}:{self.col_stop} "
                "is empty, inverted or negative"
            )

    @property
    def num_cells(self) -> int:
        return (self.row_stop - self.row_start) * (self.col_stop - self.col_start)

    def check_fits(self, height: int, width: int) -> CellRegion:
        """Return self if it lies inside an (H, W) grid, else raise :class:`ConfigError`."""
        if self.row_stop > height or self.col_stop > width:
            raise ConfigError(
                f"cell region rows {self.row_start}:{self.row_stop}, columns {self.col_start}:{self.col_stop} "
                f"lies outside the {height} x {width} grid"
            )
        return self

    def mask(self, height: int, width: int) -> torch.Tensor:
        """Bool (H, W), True inside the region."""
        self.check_fits(height, width)
        mask = torch.zeros(height, width, dtype=torch.bool)
        mask[self.row_start : self.row_stop, self.col_start : self.col_stop] = True
        return mask


def _check_edges(row_edges_hz: Sequence[float]) -> list[float]:
    edges = [float(e) for e in row_edges_hz]
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ConfigError(f"row edges must be at least two increasing frequencies, got {edges}")
    return edges


def region_to_cells(
    region: Region,
    *,
    seconds_per_cell: float,
    row_edges_hz: Sequence[float],
    width: int,
    duration: float | None = None,
) -> CellRegion:
    """The cells a region overlaps, on a grid of ``width`` columns and ``len(row_edges_hz) - 1`` rows.

    A region reaching past the sound (before 0 s, after ``duration``, by default ``width * seconds_per_cell``)
    or past the grid's frequency range is clipped to them, with a :class:`SpectrolabWarning` saying so; one
    lying wholly outside them raises :class:`ConfigError`.
    """
    edges = _check_edges(row_edges_hz)
    duration = width * seconds_per_cell if duration is None else min(duration, width * seconds_per_cell)
    region = clip_region(region, duration=duration, low_hz=edges[0], high_hz=edges[-1], slack=_EDGE_SLACK)
    slack_hz = _EDGE_SLACK * (edges[-1] - edges[0])
    col_start = math.floor(region.start_s / seconds_per_cell + _EDGE_SLACK)
    col_stop = math.ceil(region.stop_s / seconds_per_cell - _EDGE_SLACK)
    row_start = bisect.bisect_right(edges, region.low_hz + slack_hz) - 1
    row_stop = bisect.bisect_left(edges, region.high_hz - slack_hz)
    height = len(edges) - 1
    return CellRegion(
        row_start=min(max(row_start, 0), height - 1),
        row_stop=min(max(row_stop, 1), height),
        col_start=min(max(col_start, 0), width - 1),
        col_stop=min(max(col_stop, 1), width),
    )


def clip_region(region: Region, *, duration: float, low_hz: float, high_hz: float, slack: float = 0.0) -> Region:
    """``region`` clipped to ``[0, duration)`` seconds by ``[low_hz, high_hz)`` Hz, warning when that cuts off
    more than ``slack`` (relative); raises :class:`ConfigError` if nothing of it is left."""
    start, stop = max(region.start_s, 0.0), min(region.stop_s, duration)
    low, high = max(region.low_hz, low_hz), min(region.high_hz, high_hz)
    if stop <= start:
        raise ConfigError(
            f"region time span {region.start_s:g}:{region.stop_s:g} s lies outside the sound (0 to {duration:g} s)"
        )
    if high <= low:
        raise ConfigError(
            f"region frequency span {region.low_hz:g}:{region.high_hz:g} Hz lies outside the grid's range "
            f"({low_hz:g} to {high_hz:g} Hz)"
        )
    cut_time = region.start_s < -slack * duration or region.stop_s > duration * (1 + slack)
    cut_freq = region.low_hz < low_hz - slack * (high_hz - low_hz) or region.high_hz > high_hz + slack * high_hz
    if cut_time:
        warnings.warn(
            f"region {region.start_s:g}:{region.stop_s:g} s reaches outside the sound (0 to {duration:g} s); "
            f"clipped to {start:g}:{stop:g} s",
            SpectrolabWarning,
            stacklevel=3,
        )
    if cut_freq:
        warnings.warn(
            f"region {region.low_hz:g}:{region.high_hz:g} Hz reaches outside the grid's range ({low_hz:g} to "
            f"{high_hz:g} Hz); clipped to {low:g}:{high:g} Hz",
            SpectrolabWarning,
            stacklevel=3,
        )
    return Region(start_s=start, stop_s=stop, low_hz=low, high_hz=high) if cut_time or cut_freq else region


def cells_to_region(cells: CellRegion, *, seconds_per_cell: float, row_edges_hz: Sequence[float]) -> Region:
    """The exact seconds-and-Hz span of a rectangle of cells."""
    edges = _check_edges(row_edges_hz)
    if cells.row_stop > len(edges) - 1:
        raise ConfigError(f"cell region rows {cells.row_start}:{cells.row_stop} exceed the {len(edges) - 1} rows")
    return Region(
        start_s=cells.col_start * seconds_per_cell,
        stop_s=cells.col_stop * seconds_per_cell,
        low_hz=edges[cells.row_start],
        high_hz=edges[cells.row_stop],
    )


def parse_span(text: str, *, what: str) -> tuple[float, float]:
    """Parse ``"a:b"`` into two floats, naming ``what`` (e.g. ``--time``) in the error."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise ConfigError(f"{what}: expected START:STOP as two numbers, got '{text}'") from None

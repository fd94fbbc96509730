"""Edit regions: rectangles in seconds and Hz, and the rectangles of grid cells they cover.

A grid level places its columns every ``seconds_per_cell`` seconds from 0 and its rows between ``row_edges_hz``
(H + 1 increasing band edges, row 0 lowest). A :class:`Region` covers the cells it overlaps; a
:class:`CellRegion` maps back to the exact span of its cells, so cells -> region -> cells is the identity.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from spectrolab.errors import ConfigError

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

    Raises :class:`ConfigError` if the region reaches outside the sound (before 0 s, after ``duration``,
    by default ``width * seconds_per_cell``) or outside the grid's frequency range.
    """
    edges = _check_edges(row_edges_hz)
    duration = width * seconds_per_cell if duration is None else min(duration, width * seconds_per_cell)
    if region.start_s < -_EDGE_SLACK * seconds_per_cell or region.stop_s > duration * (1 + _EDGE_SLACK):
        raise ConfigError(
            f"region time span {region.start_s}:{region.stop_s} s lies outside the sound (0 to {duration:g} s)"
        )
    slack_hz = _EDGE_SLACK * (edges[-1] - edges[0])
    if region.low_hz < edges[0] - slack_hz or region.high_hz > edges[-1] + slack_hz:
        raise ConfigError(
            f"region frequency span {region.low_hz}:{region.high_hz} Hz lies outside the grid's range "
            f"({edges[0]:g} to {edges[-1]:g} Hz)"
        )
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

"""Edits on code grids: regions in seconds and Hz mapped to cells, and the resample ("blur") operation."""

from spectrolab.edit.blur import BlurOptions, BlurResult, blur, blur_file, resample_cells
from spectrolab.edit.region import CellRegion, Region, cells_to_region, parse_span, region_to_cells

__all__ = [
    "BlurOptions",
    "BlurResult",
    "CellRegion",
    "Region",
    "blur",
    "blur_file",
    "cells_to_region",
    "parse_span",
    "region_to_cells",
    "resample_cells",
]

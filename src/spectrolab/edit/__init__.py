"""Edits on code grids: regions in seconds and Hz mapped to cells, and the resample ("blur") operation."""

from spectrolab.edit.region import CellRegion, Region, cells_to_region, parse_span, region_to_cells

__all__ = ["CellRegion", "Region", "cells_to_region", "parse_span", "region_to_cells"]

"""Edits on code grids: regions in seconds and Hz mapped to cells, the resample ("blur") operation, and the
editor that pastes its result into the original sound (:func:`edit_file`, :func:`edit_audio`)."""

from spectrolab.edit.blur import BlurOptions, BlurResult, blur, resample_cells
from spectrolab.edit.composite import Feather
from spectrolab.edit.editor import EditResult, edit_audio, edit_file
from spectrolab.edit.region import CellRegion, Region, cells_to_region, parse_span, region_to_cells

__all__ = [
    "BlurOptions",
    "BlurResult",
    "CellRegion",
    "EditResult",
    "Feather",
    "Region",
    "blur",
    "cells_to_region",
    "edit_audio",
    "edit_file",
    "parse_span",
    "region_to_cells",
    "resample_cells",
]

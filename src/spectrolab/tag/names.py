"""Names the tagging API and the command line share (no torch, so that the command line starts fast)."""

from __future__ import annotations

from typing import Literal

Aggregation = Literal["mean", "max", "vote"]
AGGREGATIONS: tuple[str, ...] = ("mean", "max", "vote")

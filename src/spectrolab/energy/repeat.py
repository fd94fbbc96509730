"""Blocks shorter than a counter's resolution (one ~30 ms edit): repeat for >= ``min_seconds`` and divide."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from spectrolab.energy.base import Meter
from spectrolab.energy.meters import create_meter
from spectrolab.energy.result import EnergyResult
from spectrolab.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Measured(Generic[T]):
    """The value of the first call and the energy of one call (``energy.repeats`` says how many were run)."""

    value: T
    energy: EnergyResult


def measure_call(
    fn: Callable[[], T],
    *,
    meter: Meter | None = None,
    min_seconds: float = 2.0,
    warmup: int = 1,
    max_repeats: int = 100_000,
) -> Measured[T]:
    """Run ``fn`` ``warmup`` times (the first call's value is returned), then as often as it takes to fill
    ``min_seconds`` (at least once) under ``meter`` (default: ``auto``); the energy is per call."""
    if min_seconds < 0 or warmup < 0 or max_repeats < 1:
        raise ConfigError(
            f"need min_seconds >= 0, warmup >= 0, max_repeats >= 1; got {min_seconds}, {warmup}, {max_repeats}"
        )
    meter = meter or create_meter("auto")
    value: list[T] = [fn() for _ in range(min(warmup, 1))]
    for _ in range(warmup - 1):
        fn()
    repeats = 0
    meter.start()
    started = time.perf_counter()
    while repeats < max_repeats and (repeats == 0 or time.perf_counter() - started < min_seconds):
        result = fn()
        if not value:
            value.append(result)
        repeats += 1
    total = meter.stop()
    return Measured(value=value[0], energy=total.per_call(repeats))

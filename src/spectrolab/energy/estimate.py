"""The labelled estimate, for machines without energy counters: CPU time x W/core + RAM W x wall time.

Both power figures are ranges, stated in the result's method label and assumptions. The default CPU range,
3-10 W per busy core, spans server parts at their TDP (e.g. 270 W / 40 cores = 6.8 W, 280 W / 64 cores =
4.4 W; a hyperthread counts as a core) to laptop parts (15-45 W over 4-8 cores) with headroom above; the RAM
range, 0.5-3 W, is a process's share of DRAM (CodeCarbon assumes 3 W per 8 GB).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from spectrolab.energy.base import Meter
from spectrolab.energy.result import EnergyResult
from spectrolab.errors import ConfigError

DEFAULT_CPU_WATTS_PER_CORE = (3.0, 10.0)
DEFAULT_RAM_WATTS = (0.5, 3.0)


@dataclass(frozen=True)
class PowerRange:
    """A stated power figure in watts, as a range ``low <= high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and 0 <= self.low <= self.high):
            raise ConfigError(f"a power range needs 0 <= low <= high watts, got {self.low}-{self.high}")

    @classmethod
    def parse(cls, value: str | float | tuple[float, float], *, what: str) -> PowerRange:
        """``"3:10"``, ``"5"``, ``5.0`` or ``(3, 10)`` -> a range; ConfigError naming ``what`` otherwise."""
        try:
            if isinstance(value, str):
                parts = [float(v) for v in value.split(":")] if ":" in value else [float(value)] * 2
                low, high = parts if len(parts) == 2 else (math.nan, math.nan)
            elif isinstance(value, int | float):
                low = high = float(value)
            else:
                low, high = (float(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{what}: expected watts as W or LOW:HIGH, got {value!r}") from exc
        try:
            return cls(low, high)
        except ConfigError as exc:
            raise ConfigError(f"{what}: {exc}") from exc

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


def estimate_joules(
    cpu_seconds: float, wall_seconds: float, *, cpu_watts_per_core: PowerRange, ram_watts: PowerRange
) -> tuple[float, float]:
    """(low, high) joules = CPU-seconds x W/core + RAM W x wall seconds, at each end of the ranges."""
    if cpu_seconds < 0 or wall_seconds < 0:
        raise ConfigError(f"seconds must be >= 0, got cpu {cpu_seconds}, wall {wall_seconds}")
    low = cpu_seconds * cpu_watts_per_core.low + wall_seconds * ram_watts.low
    high = cpu_seconds * cpu_watts_per_core.high + wall_seconds * ram_watts.high
    return low, high


def process_cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and of its child processes that have ended."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def estimate_label(cpu_watts_per_core: PowerRange, ram_watts: PowerRange) -> str:
    return f"estimated (CPU-seconds x {cpu_watts_per_core} W/core + RAM {ram_watts} W x wall)"


class EstimateMeter(Meter):
    """Estimated energy of this process: its CPU time x ``cpu_watts_per_core`` + ``ram_watts`` x wall time."""

    def __init__(
        self,
        *,
        cpu_watts_per_core: str | float | tuple[float, float] = DEFAULT_CPU_WATTS_PER_CORE,
        ram_watts: str | float | tuple[float, float] = DEFAULT_RAM_WATTS,
    ) -> None:
        super().__init__()
        self.cpu_watts_per_core = PowerRange.parse(cpu_watts_per_core, what="cpu_watts_per_core")
        self.ram_watts = PowerRange.parse(ram_watts, what="ram_watts")

    def snapshot(self) -> tuple[float, float]:
        return time.perf_counter(), process_cpu_seconds()

    def between(self, before: tuple[float, float], after: tuple[float, float]) -> EnergyResult:
        wall, cpu = after[0] - before[0], max(0.0, after[1] - before[1])
        low, high = estimate_joules(cpu, wall, cpu_watts_per_core=self.cpu_watts_per_core, ram_watts=self.ram_watts)
        return EnergyResult(
            joules_low=low,
            joules_high=high,
            seconds=wall,
            method=estimate_label(self.cpu_watts_per_core, self.ram_watts),
            assumptions={
                "cpu_watts_per_core": [self.cpu_watts_per_core.low, self.cpu_watts_per_core.high],
                "ram_watts": [self.ram_watts.low, self.ram_watts.high],
                "cpu_seconds": cpu,
                "scope": "this process and its ended child processes; no counters read",
            },
            estimated=True,
        )

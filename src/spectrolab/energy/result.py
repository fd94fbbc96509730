"""What a meter returns: joules (a range for estimates), seconds and the method that produced them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from spectrolab.errors import EnergyError

JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class EnergyResult:
    """Energy of one measured block.

    ``joules_low == joules_high`` for a measured counter; an estimate gives the range its stated assumptions span.
    ``method`` is a label such as "measured (RAPL package+DRAM)" or "estimated (CPU-seconds x 3-10 W/core + RAM
    0.5-3 W x wall)"; ``assumptions`` holds the figures behind it. ``repeats > 1`` means the block was repeated
    that many times and the figures are per call (``seconds`` too).
    """

    joules_low: float
    joules_high: float
    seconds: float
    method: str
    assumptions: dict[str, Any] = field(default_factory=dict)
    estimated: bool = False
    repeats: int = 1

    def __post_init__(self) -> None:
        values = (self.joules_low, self.joules_high, self.seconds)
        if not all(math.isfinite(v) and v >= 0 for v in values) or self.joules_low > self.joules_high:
            raise EnergyError(f"energy needs 0 <= joules_low <= joules_high and seconds >= 0, got {values}")

    @property
    def joules(self) -> float:
        """The middle of the range (the value itself for a measurement)."""
        return (self.joules_low + self.joules_high) / 2

    @property
    def kwh_low(self) -> float:
        return self.joules_low / JOULES_PER_KWH

    @property
    def kwh_high(self) -> float:
        return self.joules_high / JOULES_PER_KWH

    @property
    def watts(self) -> float:
        """Mean power over the block (middle of the range); 0 for a block of no duration."""
        return self.joules / self.seconds if self.seconds > 0 else 0.0

    def per_call(self, repeats: int) -> EnergyResult:
        """This total divided over ``repeats`` calls of the block."""
        if repeats < 1:
            raise EnergyError(f"repeats must be >= 1, got {repeats}")
        return replace(
            self,
            joules_low=self.joules_low / repeats,
            joules_high=self.joules_high / repeats,
            seconds=self.seconds / repeats,
            repeats=self.repeats * repeats,
        )

    def describe(self) -> str:
        """One line: joules (range), seconds, method, and the repetition if any."""
        joules = format_joules(self.joules_low, self.joules_high)
        line = f"{joules} in {self.seconds:.4g} s, {self.method}"
        if self.repeats > 1:
            line += f"; per call, mean of {self.repeats} repeats (block shorter than the counter's resolution)"
        return line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnergyResult:
        try:
            return cls(
                **{k: data[k] for k in ("joules_low", "joules_high", "seconds", "method")},
                assumptions=dict(data.get("assumptions", {})),
                estimated=bool(data.get("estimated", False)),
                repeats=int(data.get("repeats", 1)),
            )
        except (KeyError, TypeError) as exc:
            raise EnergyError(f"malformed energy record {data!r}: {exc}") from exc


def format_joules(low: float, high: float) -> str:
    """``"1.2 J"`` or ``"0.8-2.4 J"`` (kJ/MJ/kWh for large figures)."""
    scale, unit = next(((s, u) for s, u in ((3.6e6, "kWh"), (1e3, "kJ")) if high >= 10 * s), (1.0, "J"))
    if math.isclose(low, high, rel_tol=1e-9):
        return f"{high / scale:.3g} {unit}"
    return f"{low / scale:.3g}-{high / scale:.3g} {unit}"


def in_sequence(results: list[EnergyResult]) -> EnergyResult:
    """Blocks run one after another (segments of a run): joules, seconds and estimated CPU-seconds add."""
    if not results:
        raise EnergyError("no energy results to add up")
    first = results[0]
    assumptions = dict(first.assumptions)
    if all("cpu_seconds" in r.assumptions for r in results):
        assumptions["cpu_seconds"] = sum(float(r.assumptions["cpu_seconds"]) for r in results)
    return replace(
        first,
        joules_low=sum(r.joules_low for r in results),
        joules_high=sum(r.joules_high for r in results),
        seconds=sum(r.seconds for r in results),
        method=" / ".join(dict.fromkeys(r.method for r in results)),
        assumptions=assumptions,
        repeats=1,
    )


def in_parallel(results: list[EnergyResult]) -> EnergyResult:
    """Parts of one block measured side by side (CPU and GPU): joules add, seconds are the longest."""
    if not results:
        raise EnergyError("no energy results to combine")
    assumptions: dict[str, Any] = {}
    for r in results:
        assumptions.update(r.assumptions)
    return EnergyResult(
        joules_low=sum(r.joules_low for r in results),
        joules_high=sum(r.joules_high for r in results),
        seconds=max(r.seconds for r in results),
        method=" + ".join(r.method for r in results),
        assumptions=assumptions,
        estimated=any(r.estimated for r in results),
    )

"""The one meter interface: ``with meter: ...`` then ``meter.result``; or ``start()``, ``lap()``, ``stop()``.

A meter takes a snapshot of its counters at the start and at each lap; the difference of two snapshots is an
:class:`~spectrolab.energy.result.EnergyResult`. Subclasses implement only ``snapshot`` and ``between``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from spectrolab.energy.result import EnergyResult, in_parallel
from spectrolab.errors import EnergyError


class Meter(ABC):
    """Measures the energy of the code run between ``start()`` and ``lap()``/``stop()``."""

    result: EnergyResult | None = None

    def __init__(self) -> None:
        self._begin: Any = None

    @abstractmethod
    def snapshot(self) -> Any:
        """The counters now (whatever ``between`` needs)."""

    @abstractmethod
    def between(self, before: Any, after: Any) -> EnergyResult:
        """Energy spent from snapshot ``before`` to snapshot ``after``."""

    @property
    def running(self) -> bool:
        return self._begin is not None

    def started(self) -> None:
        """Called after ``start()`` (e.g. to begin polling counters in the background); nothing by default."""
        return None

    def stopped(self) -> None:
        """Called after ``stop()``; nothing by default."""
        return None

    def start(self) -> None:
        self._begin = self.snapshot()
        self.started()

    def lap(self) -> EnergyResult:
        """Energy since ``start()`` or the previous lap; the meter keeps running from now."""
        if self._begin is None:
            raise EnergyError(f"{type(self).__name__}: lap() or stop() before start()")
        now = self.snapshot()
        result = self.between(self._begin, now)
        self._begin = now
        return result

    def stop(self) -> EnergyResult:
        self.result = self.lap()
        self._begin = None
        self.stopped()
        return self.result

    def __enter__(self) -> Meter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CombinedMeter(Meter):
    """Several meters read side by side (e.g. RAPL or the CPU estimate, plus NVML for the GPU)."""

    def __init__(self, meters: list[Meter]) -> None:
        super().__init__()
        if not meters:
            raise EnergyError("a combined meter needs at least one meter")
        self.meters = meters

    def snapshot(self) -> list[Any]:
        return [m.snapshot() for m in self.meters]

    def started(self) -> None:
        for m in self.meters:
            m.started()

    def stopped(self) -> None:
        for m in self.meters:
            m.stopped()

    def between(self, before: list[Any], after: list[Any]) -> EnergyResult:
        parts = [m.between(b, a) for m, b, a in zip(self.meters, before, after, strict=True)]
        return parts[0] if len(parts) == 1 else in_parallel(parts)

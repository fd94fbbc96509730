"""Per-inference energy measurements as small JSON files (``results/energy/*.json``), for reports.

Schema ``spectrolab.energy.measurement/1``::

    {"schema": "spectrolab.energy.measurement/1", "name": "edit, Naive Bayes prior", "category": "inference",
     "unit": "edit", "energy": {EnergyResult per unit: joules_low, joules_high, seconds, method, assumptions,
     estimated, repeats}, "co2e": {"grams_low", "grams_high", "intensity": {...}}, "command": "...",
     "threads": 1, "unix_time": 1790000000.0}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.energy.carbon import CarbonIntensity, Emissions, emissions
from spectrolab.energy.result import EnergyResult
from spectrolab.errors import EnergyError

MEASUREMENT_SCHEMA = "spectrolab.energy.measurement/1"


@dataclass(frozen=True)
class Measurement:
    """The energy of one ``unit`` (an edit, a song, a call) of the work called ``name``."""

    name: str
    energy: EnergyResult
    unit: str = "call"
    category: str = "inference"
    command: str = ""
    threads: int | None = None

    def co2e(self, intensity: CarbonIntensity | None = None) -> Emissions:
        return emissions(self.energy, intensity)

    def to_dict(self, intensity: CarbonIntensity | None = None) -> dict[str, Any]:
        return {
            "schema": MEASUREMENT_SCHEMA,
            "name": self.name,
            "category": self.category,
            "unit": self.unit,
            "energy": self.energy.to_dict(),
            "co2e": self.co2e(intensity).to_dict(),
            "command": self.command,
            "threads": self.threads,
            "unix_time": round(time.time(), 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        if data.get("schema") != MEASUREMENT_SCHEMA:
            raise EnergyError(f"schema {data.get('schema')!r} is not {MEASUREMENT_SCHEMA}")
        try:
            return cls(
                name=str(data["name"]),
                energy=EnergyResult.from_dict(data["energy"]),
                unit=str(data.get("unit", "call")),
                category=str(data.get("category", "inference")),
                command=str(data.get("command", "")),
                threads=data.get("threads"),
            )
        except KeyError as exc:
            raise EnergyError(f"energy measurement lacks {exc}") from exc


def write_measurement(path: str | Path, measurement: Measurement, *, force: bool = False) -> Path:
    payload = json.dumps(measurement.to_dict(), indent=2) + "\n"
    return atomic_write_bytes(path, payload.encode(), force=force)


def read_measurement(path: str | Path) -> Measurement:
    path = Path(path)
    try:
        return Measurement.from_dict(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, EnergyError) as exc:
        raise EnergyError(f"{path}: not an energy measurement ({exc})") from exc

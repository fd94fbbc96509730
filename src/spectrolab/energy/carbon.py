"""Carbon: g CO2e = kWh x the grid's carbon intensity (g CO2e/kWh), from the user or an offline table.

No geolocation and no network: the intensity is a number the user gives, or a country's entry in the table
below, or the world average. Every :class:`CarbonIntensity` carries its source and year, to be printed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from spectrolab.energy.result import JOULES_PER_KWH, EnergyResult
from spectrolab.errors import ConfigError

WORLD_SOURCE = "Ember, Global Electricity Review 2024 (world average of electricity generation)"
COUNTRY_SOURCE = (
    "Ember and Energy Institute via Our World in Data, carbon intensity of electricity generation "
    "(the figures CodeCarbon 3.3.2 ships), rounded"
)
WORLD_G_PER_KWH = 480.0
WORLD_YEAR = 2023

# ISO 3166-1 alpha-2 -> (g CO2e per kWh generated, year).
COUNTRY_G_PER_KWH: dict[str, tuple[float, int]] = {
    "AR": (354, 2023), "AT": (111, 2023), "AU": (549, 2023), "BE": (138, 2023), "BR": (98, 2023),
    "CA": (170, 2023), "CH": (35, 2023), "CN": (582, 2023), "DE": (381, 2023), "DK": (152, 2023),
    "ES": (174, 2023), "FI": (79, 2023), "FR": (56, 2023), "GB": (238, 2023), "ID": (676, 2022),
    "IE": (291, 2023), "IN": (713, 2023), "IS": (28, 2022), "IT": (331, 2023), "JP": (485, 2023),
    "KR": (431, 2023), "MX": (507, 2023), "NL": (268, 2023), "NO": (30, 2023), "NZ": (113, 2023),
    "PL": (662, 2023), "PT": (166, 2023), "RU": (441, 2023), "SA": (707, 2022), "SE": (41, 2023),
    "SG": (471, 2023), "TR": (465, 2023), "US": (369, 2023), "ZA": (708, 2023),
}  # fmt: skip


@dataclass(frozen=True)
class CarbonIntensity:
    """Grams of CO2-equivalent per kWh of electricity, where the figure applies, and where it comes from."""

    g_per_kwh: float
    region: str
    source: str
    year: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.g_per_kwh) and self.g_per_kwh >= 0):
            raise ConfigError(f"carbon intensity must be >= 0 g CO2e/kWh, got {self.g_per_kwh}")

    def describe(self) -> str:
        year = f", {self.year}" if self.year else ""
        return f"{self.g_per_kwh:g} g CO2e/kWh ({self.region}; {self.source}{year})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def carbon_intensity(*, country: str | None = None, g_per_kwh: float | None = None) -> CarbonIntensity:
    """The user's ``g_per_kwh``, else ``country``'s table entry (ISO alpha-2, e.g. "FR"), else the world average."""
    if g_per_kwh is not None and country is not None:
        raise ConfigError("give a carbon intensity either in g/kWh or as a country code, not both")
    if g_per_kwh is not None:
        return CarbonIntensity(float(g_per_kwh), region="user-given", source="stated by the user")
    if country is not None:
        code = country.strip().upper()
        if code not in COUNTRY_G_PER_KWH:
            known = ", ".join(sorted(COUNTRY_G_PER_KWH))
            raise ConfigError(f"unknown country code '{country}' for carbon intensity; known: {known}")
        value, year = COUNTRY_G_PER_KWH[code]
        return CarbonIntensity(float(value), region=code, source=COUNTRY_SOURCE, year=year)
    return CarbonIntensity(WORLD_G_PER_KWH, region="world average", source=WORLD_SOURCE, year=WORLD_YEAR)


def grams_co2e(joules: float, intensity: CarbonIntensity) -> float:
    """g CO2e = joules / 3.6e6 J/kWh x g/kWh."""
    return joules / JOULES_PER_KWH * intensity.g_per_kwh


@dataclass(frozen=True)
class Emissions:
    """The carbon of an energy result: a range of grams CO2e at ``intensity``."""

    grams_low: float
    grams_high: float
    intensity: CarbonIntensity

    def describe(self) -> str:
        low, high = self.grams_low, self.grams_high
        grams = f"{high:.3g}" if math.isclose(low, high) else f"{low:.3g}-{high:.3g}"
        return f"{grams} g CO2e at {self.intensity.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return {"grams_low": self.grams_low, "grams_high": self.grams_high, "intensity": self.intensity.to_dict()}


def emissions(result: EnergyResult, intensity: CarbonIntensity | None = None) -> Emissions:
    """The grams CO2e of ``result`` at ``intensity`` (default: the world average)."""
    intensity = intensity or carbon_intensity()
    return Emissions(grams_co2e(result.joules_low, intensity), grams_co2e(result.joules_high, intensity), intensity)

"""CodeCarbon's ``OfflineEmissionsTracker`` as an optional meter (``pip install codecarbon``): no network, no files.

CodeCarbon reads RAPL/NVML where they are readable; on a machine without counters it falls back on a TDP
guess (its table, else 4 W per thread) times the CPU load, plus a RAM power model (at least 10 W). The label
says which tracking modes it chose. Only its energy is used: carbon is converted by
:mod:`spectrolab.energy.carbon` like every other meter's, so the two are comparable.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from spectrolab.energy.base import Meter
from spectrolab.energy.result import JOULES_PER_KWH, EnergyResult
from spectrolab.errors import ConfigError, EnergyError


def _alpha3(country: str) -> str:
    """ISO alpha-2 ("FR") -> alpha-3 ("FRA"), which CodeCarbon's offline tracker wants."""
    pycountry = importlib.import_module("pycountry")
    found = pycountry.countries.get(alpha_2=country.upper()) if len(country) == 2 else None
    if found is None:
        raise ConfigError(f"unknown country code '{country}' (give ISO 3166 alpha-2, e.g. FR)")
    return str(found.alpha_3)


def offline_tracker_factory(*, country: str, measure_power_secs: float) -> Callable[[], Any]:
    """A function making fresh ``OfflineEmissionsTracker`` s that write nothing and call no API."""
    try:
        codecarbon = importlib.import_module("codecarbon")
    except ImportError as exc:
        raise EnergyError("the codecarbon meter needs the codecarbon package: pip install codecarbon") from exc
    alpha3 = _alpha3(country)
    logging.getLogger("codecarbon").setLevel(logging.ERROR)

    def make() -> Any:
        return codecarbon.OfflineEmissionsTracker(
            country_iso_code=alpha3,
            measure_power_secs=measure_power_secs,
            save_to_file=False,
            save_to_api=False,
            log_level="error",
            allow_multiple_runs=True,
            tracking_mode="process",
        )

    return make


class CodeCarbonMeter(Meter):
    """Energy as CodeCarbon's offline tracker reports it (a new tracker per lap).

    A snapshot closes the tracker running since the previous one and starts the next; ``between`` reads the
    closed tracker's ``final_emissions_data``.
    """

    def __init__(
        self,
        *,
        country: str = "US",
        measure_power_secs: float = 1.0,
        tracker_factory: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.make_tracker = tracker_factory or offline_tracker_factory(
            country=country, measure_power_secs=measure_power_secs
        )
        self._tracker: Any = None

    def snapshot(self) -> Any:
        closed = self._close()
        self._tracker = self.make_tracker()
        self._tracker.start()
        return closed

    def _close(self) -> Any:
        if self._tracker is None:
            return ()  # the first snapshot closes nothing
        tracker, self._tracker = self._tracker, None
        tracker.stop()
        data = getattr(tracker, "final_emissions_data", None)
        if data is None:
            raise EnergyError("CodeCarbon's tracker stopped without emissions data")
        hardware = getattr(tracker, "_hardware", [])
        cpu_modes = [str(getattr(h, "_mode", "?")) for h in hardware if type(h).__name__ == "CPU"]
        return data, ",".join(cpu_modes) or "unknown"

    def stopped(self) -> None:
        if self._tracker is not None:  # stopped through lap() (e.g. inside a CombinedMeter): close the fresh one
            self._close()

    def stop(self) -> EnergyResult:
        """Close the running tracker without starting another."""
        begin = self._begin
        if begin is None:
            raise EnergyError("CodeCarbonMeter: stop() before start()")
        self.result = self.between(begin, self._close())
        self._begin = None
        return self.result

    def between(self, before: Any, after: Any) -> EnergyResult:
        data, cpu_mode = after
        joules = float(data.energy_consumed) * JOULES_PER_KWH
        version = getattr(data, "codecarbon_version", "?")
        powers = f"CPU {cpu_mode} {float(data.cpu_power):.3g} W, RAM model {float(data.ram_power):.3g} W"
        return EnergyResult(
            joules_low=joules,
            joules_high=joules,
            seconds=float(data.duration),
            method=f"estimated by CodeCarbon {version} offline ({powers})",
            assumptions={
                "codecarbon_cpu_model": getattr(data, "cpu_model", None),
                "codecarbon_cpu_mode": cpu_mode,
                "codecarbon_cpu_joules": float(data.cpu_energy) * JOULES_PER_KWH,
                "codecarbon_ram_joules": float(data.ram_energy) * JOULES_PER_KWH,
                "codecarbon_gpu_joules": float(data.gpu_energy) * JOULES_PER_KWH,
            },
            estimated=True,  # CodeCarbon models RAM power whatever it finds for the CPU
        )

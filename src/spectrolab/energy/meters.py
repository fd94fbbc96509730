"""Meters built by name (``create_meter("estimate" | "rapl" | "nvml" | "codecarbon" | "auto", **options)``).

``auto`` takes the best that this machine offers: RAPL for the CPU where its counters are readable, else the
labelled CPU estimate; plus NVML for NVIDIA GPUs where present. On a machine with neither, that is the estimate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spectrolab.energy.base import CombinedMeter, Meter
from spectrolab.energy.estimate import EstimateMeter
from spectrolab.energy.nvml import NvmlMeter
from spectrolab.energy.rapl import POWERCAP_ROOT, RaplMeter
from spectrolab.errors import ConfigError, EnergyError


def _codecarbon(**options: Any) -> Meter:
    from spectrolab.energy.codecarbon import CodeCarbonMeter

    return CodeCarbonMeter(**options)


def auto_meter(
    *,
    powercap_root: str | Path = POWERCAP_ROOT,
    nvml: Any = None,
    gpu: bool = True,
    cpu_watts_per_core: Any = None,
    ram_watts: Any = None,
) -> Meter:
    """RAPL > the CPU estimate, plus NVML if ``gpu`` and a GPU counter is there (see the module docstring)."""
    cpu: Meter
    try:
        cpu = RaplMeter(root=powercap_root)
    except EnergyError:
        estimate_options = {"cpu_watts_per_core": cpu_watts_per_core, "ram_watts": ram_watts}
        cpu = EstimateMeter(**{k: v for k, v in estimate_options.items() if v is not None})
    meters: list[Meter] = [cpu]
    if gpu:
        with contextlib.suppress(EnergyError):
            meters.append(NvmlMeter(nvml=nvml))
    return meters[0] if len(meters) == 1 else CombinedMeter(meters)


METERS: dict[str, Callable[..., Meter]] = {
    "auto": auto_meter,
    "estimate": EstimateMeter,
    "rapl": RaplMeter,
    "nvml": NvmlMeter,
    "codecarbon": _codecarbon,
}


def list_meters() -> list[str]:
    return list(METERS)


def create_meter(name: str = "auto", **options: Any) -> Meter:
    """The meter registered as ``name``, built with ``options`` (EnergyError if its counters are not there)."""
    if name not in METERS:
        raise ConfigError(f"unknown energy meter '{name}'; choose from {', '.join(METERS)}")
    return METERS[name](**options)

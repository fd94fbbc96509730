"""NVIDIA GPU energy from NVML's total-energy counter (``nvidia-ml-py``), the device synchronised both sides.

``nvmlDeviceGetTotalEnergyConsumption`` gives millijoules since the driver loaded (Volta and newer). The
meter synchronises CUDA before each reading so that queued kernels are counted in the block that issued them.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from spectrolab.energy.base import Meter
from spectrolab.energy.result import EnergyResult
from spectrolab.errors import EnergyError


def load_nvml() -> ModuleType:
    """The ``pynvml`` module (package ``nvidia-ml-py``), initialised; EnergyError if absent or no driver."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError as exc:
        raise EnergyError("NVML needs the nvidia-ml-py package: pip install nvidia-ml-py") from exc
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        raise EnergyError(f"NVML unavailable: {exc}") from exc
    return nvml


def cuda_synchronize() -> None:
    """Wait for every queued CUDA kernel (nothing to do without CUDA)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class NvmlMeter(Meter):
    """Measured energy of NVIDIA GPUs ``devices`` (default: all that NVML sees)."""

    def __init__(
        self,
        *,
        devices: Sequence[int] | None = None,
        nvml: Any = None,
        synchronize: Callable[[], None] = cuda_synchronize,
    ) -> None:
        super().__init__()
        self.nvml = nvml if nvml is not None else load_nvml()
        count = int(self.nvml.nvmlDeviceGetCount())
        self.devices = list(range(count)) if devices is None else list(devices)
        if not self.devices or any(not 0 <= i < count for i in self.devices):
            raise EnergyError(f"NVML: devices {self.devices} not among the {count} GPUs present")
        self.handles = [self.nvml.nvmlDeviceGetHandleByIndex(i) for i in self.devices]
        self.names = [_text(self.nvml.nvmlDeviceGetName(h)) for h in self.handles]
        self.synchronize = synchronize
        try:
            self._read()
        except Exception as exc:
            raise EnergyError(f"NVML: no total-energy counter on {self.names} ({exc})") from exc

    @property
    def label(self) -> str:
        return f"measured (NVML GPU {','.join(map(str, self.devices))})"

    def _read(self) -> list[int]:
        return [int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self.handles]

    def snapshot(self) -> tuple[float, list[int]]:
        self.synchronize()
        return time.perf_counter(), self._read()

    def between(self, before: tuple[float, list[int]], after: tuple[float, list[int]]) -> EnergyResult:
        joules = sum(max(0, a - b) for a, b in zip(after[1], before[1], strict=True)) / 1e3
        return EnergyResult(
            joules_low=joules,
            joules_high=joules,
            seconds=after[0] - before[0],
            method=self.label,
            assumptions={"gpus": self.names},
        )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

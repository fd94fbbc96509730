"""Intel/AMD RAPL energy counters through the Linux powercap tree (``/sys/class/powercap``).

Counted: each top-level ``package-N`` domain and each ``dram`` domain (DRAM is not part of the package counter,
even when the kernel lists it under the package). Never counted: ``core``/``uncore`` (already inside their
package) and ``psys`` (the whole SoC) unless there is no package domain; ``intel-rapl-mmio`` copies of a
package the MSR interface already shows are skipped. A counter wraps at ``max_energy_range_uj``; the meter
reads the counters every ``poll_seconds`` in a background thread so that no wrap is missed in long runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from spectrolab.energy.base import Meter
from spectrolab.energy.result import EnergyResult
from spectrolab.errors import EnergyError

POWERCAP_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class RaplDomain:
    """One powercap zone: its folder, name (``package-0``, ``dram``, ``core``, ...), depth and wrap range."""

    path: Path
    name: str
    depth: int
    max_energy_uj: int

    def read_uj(self) -> int:
        try:
            return int((self.path / "energy_uj").read_text())
        except (OSError, ValueError) as exc:
            raise EnergyError(f"{self.path / 'energy_uj'}: unreadable ({exc}); RAPL needs read access") from exc


def discover_domains(root: str | Path = POWERCAP_ROOT) -> list[RaplDomain]:
    """Every RAPL zone under ``root`` (``intel-rapl:0``, ``intel-rapl:0:1``, ``intel-rapl-mmio:0``, ...)."""
    domains = []
    for path in sorted(Path(root).glob("*rapl*:*")):
        if not (path / "energy_uj").is_file():
            continue
        zone = path.name.partition(":")[2]
        try:
            name = (path / "name").read_text().strip()
            max_uj = int((path / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            continue
        domains.append(RaplDomain(path=path, name=name, depth=zone.count(":"), max_energy_uj=max_uj))
    return domains


def counted_domains(domains: list[RaplDomain]) -> list[RaplDomain]:
    """The domains whose energies add up without counting any joule twice (see the module docstring)."""
    msr_names = {d.name for d in domains if not d.path.name.startswith("intel-rapl-mmio")}
    unique = [d for d in domains if not (d.path.name.startswith("intel-rapl-mmio") and d.name in msr_names)]
    packages = [d for d in unique if d.depth == 0 and d.name.startswith("package")]
    drams = [d for d in unique if d.name == "dram"]
    if packages:
        return packages + drams
    return [d for d in unique if d.depth == 0 and d.name == "psys"] + drams


def wrapped_delta(before_uj: int, after_uj: int, max_energy_uj: int) -> int:
    """Microjoules between two readings of a counter that wraps to 0 after ``max_energy_uj``."""
    return after_uj - before_uj if after_uj >= before_uj else after_uj + max_energy_uj - before_uj


class RaplMeter(Meter):
    """Measured CPU package + DRAM energy from RAPL (the whole machine's sockets, not only this process)."""

    def __init__(self, *, root: str | Path = POWERCAP_ROOT, poll_seconds: float | None = 30.0) -> None:
        super().__init__()
        self.domains = counted_domains(discover_domains(root))
        if not self.domains:
            raise EnergyError(f"{root}: no readable RAPL package or DRAM domain")
        self._last = [d.read_uj() for d in self.domains]
        self._total_uj = [0] * len(self.domains)
        self._lock = threading.Lock()
        self._poll_seconds = poll_seconds
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def label(self) -> str:
        names = dict.fromkeys("DRAM" if d.name == "dram" else d.name.split("-")[0] for d in self.domains)
        return f"measured (RAPL {'+'.join(names)})"

    def poll(self) -> list[int]:
        """Read every counter, add the (wrap-corrected) increments; returns the running totals in uJ."""
        with self._lock:
            for i, domain in enumerate(self.domains):
                now = domain.read_uj()
                self._total_uj[i] += wrapped_delta(self._last[i], now, domain.max_energy_uj)
                self._last[i] = now
            return list(self._total_uj)

    def _poll_loop(self) -> None:
        assert self._poll_seconds is not None
        while not self._stopping.wait(self._poll_seconds):
            self.poll()

    def started(self) -> None:
        if self._poll_seconds and self._poller is None:
            self._stopping.clear()
            self._poller = threading.Thread(target=self._poll_loop, name="rapl-poll", daemon=True)
            self._poller.start()

    def stopped(self) -> None:
        if self._poller is not None:
            self._stopping.set()
            self._poller = None

    def snapshot(self) -> tuple[float, list[int]]:
        return time.perf_counter(), self.poll()

    def between(self, before: tuple[float, list[int]], after: tuple[float, list[int]]) -> EnergyResult:
        joules = sum(a - b for a, b in zip(after[1], before[1], strict=True)) / 1e6
        return EnergyResult(
            joules_low=joules,
            joules_high=joules,
            seconds=after[0] - before[0],
            method=self.label,
            assumptions={"rapl_domains": [f"{d.path.name} ({d.name})" for d in self.domains]},
        )

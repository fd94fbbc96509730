"""Energy of training runs: a Lightning callback writing ``RUN/energy.json`` and ``RUN/energy.csv``.

:class:`EnergyRecorder` laps its meter at every validation, at every epoch's end, at the end of training and
on an exception, and appends one row per lap with the lap's joules and the run's running total. A resumed run
(``trainer.fit(..., ckpt_path=...)``) appends to the rows already there and keeps counting from their total:
the total is the energy actually spent, work redone after a resume included. Only the rank-0 process records.
:func:`training_energy` condenses the record into the ``training_energy`` entry of an exported model's metadata.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.energy.base import Meter
from spectrolab.energy.carbon import CarbonIntensity, carbon_intensity, emissions
from spectrolab.energy.meters import create_meter
from spectrolab.energy.result import EnergyResult
from spectrolab.errors import EnergyError

SCHEMA = "spectrolab.energy.training/1"
JSON_NAME, CSV_NAME = "energy.json", "energy.csv"
COLUMNS = (
    "session", "event", "epoch", "step", "joules_low", "joules_high", "seconds",
    "total_joules_low", "total_joules_high", "total_seconds", "unix_time", "method", "cpu_seconds",
)  # fmt: skip


def epoch_totals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Joules (low, high) and seconds per epoch, summed over the laps (and sessions) of each epoch."""
    epochs: dict[int, dict[str, Any]] = {}
    for row in records:
        entry = epochs.setdefault(
            int(row["epoch"]), {"epoch": int(row["epoch"]), "joules_low": 0.0, "joules_high": 0.0, "seconds": 0.0}
        )
        for key in ("joules_low", "joules_high", "seconds"):
            entry[key] += float(row[key])
    return [epochs[k] for k in sorted(epochs)]


def read_record(run_dir: str | Path) -> dict[str, Any]:
    """The parsed ``RUN/energy.json``; EnergyError if it is missing or not a training-energy record."""
    path = Path(run_dir) / JSON_NAME
    if not path.is_file():
        raise EnergyError(f"{path}: no energy record (was the run trained with the EnergyRecorder callback?)")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EnergyError(f"{path}: not valid JSON ({exc})") from exc
    if record.get("schema") != SCHEMA:
        raise EnergyError(f"{path}: schema {record.get('schema')!r} is not {SCHEMA}")
    return record


def energy_entry(result: EnergyResult, intensity: CarbonIntensity | None = None) -> dict[str, Any]:
    """A model's ``training_energy`` metadata: joules [low, high], seconds, method, assumptions and g CO2e."""
    carbon = emissions(result, intensity)
    return {
        "joules": [result.joules_low, result.joules_high],
        "seconds": result.seconds,
        "method": result.method,
        "assumptions": result.assumptions,
        "co2e_grams": [carbon.grams_low, carbon.grams_high],
        "carbon_intensity": carbon.intensity.to_dict(),
    }


def training_energy(run_dir: str | Path) -> dict[str, Any] | None:
    """The ``training_energy`` metadata entry of a run (see :func:`energy_entry`) from its record, or None if
    the run has no record (e.g. on a DDP process other than rank 0)."""
    try:
        record = read_record(run_dir)
    except EnergyError:
        return None
    intensity = CarbonIntensity(**record["co2e"]["intensity"])
    entry = energy_entry(EnergyResult.from_dict(record["total"]), intensity)
    return {**entry, "sessions": record["sessions"], "record": JSON_NAME}


class EnergyRecorder(Callback):
    """Record the energy of a training run in ``run_dir`` (JSON + CSV), per lap, per epoch and in total.

    ``meter`` is a registered meter name (default ``auto``: RAPL/NVML where readable, else the labelled
    estimate) or a :class:`~spectrolab.energy.base.Meter`; ``intensity`` converts the total to g CO2e (default:
    the world average).
    """

    def __init__(
        self, run_dir: str | Path, *, meter: str | Meter = "auto", intensity: CarbonIntensity | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self._meter_spec = meter
        self.meter: Meter | None = None
        self.intensity = intensity or carbon_intensity()
        self.records: list[dict[str, Any]] = []
        self.session = 0
        self.total: EnergyResult | None = None
        self._epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.records, self.session = [], 0
        if trainer.ckpt_path is not None and (self.run_dir / JSON_NAME).is_file():
            earlier = read_record(self.run_dir)
            self.records = list(earlier["records"])
            self.session = int(earlier["sessions"])
        self.meter = create_meter(self._meter_spec) if isinstance(self._meter_spec, str) else self._meter_spec
        self.meter.start()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch = trainer.current_epoch  # at the end of training ``current_epoch`` is already one past it

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._lap(trainer, "validation")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._lap(trainer, "epoch")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._lap(trainer, "end", stop=True)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._lap(trainer, "interrupted", stop=True)

    def _lap(self, trainer: L.Trainer, event: str, *, stop: bool = False) -> None:
        if self.meter is None or not self.meter.running or trainer.sanity_checking:
            return
        lap = self.meter.stop() if stop else self.meter.lap()
        previous = self.records[-1] if self.records else {}
        self.records.append({
            "session": self.session,
            "event": event,
            "epoch": self._epoch,
            "step": trainer.global_step,
            "joules_low": lap.joules_low,
            "joules_high": lap.joules_high,
            "seconds": lap.seconds,
            "total_joules_low": float(previous.get("total_joules_low", 0.0)) + lap.joules_low,
            "total_joules_high": float(previous.get("total_joules_high", 0.0)) + lap.joules_high,
            "total_seconds": float(previous.get("total_seconds", 0.0)) + lap.seconds,
            "unix_time": round(time.time(), 3),
            "method": lap.method,
            "cpu_seconds": lap.assumptions.get("cpu_seconds"),
        })  # fmt: skip
        last = self.records[-1]
        self.total = EnergyResult(
            joules_low=last["total_joules_low"],
            joules_high=last["total_joules_high"],
            seconds=last["total_seconds"],
            method=" / ".join(dict.fromkeys(str(r["method"]) for r in self.records)),
            assumptions=self._total_assumptions(lap.assumptions),
            estimated=lap.estimated,
        )
        self._write()

    def _total_assumptions(self, assumptions: dict[str, Any]) -> dict[str, Any]:
        """The last lap's assumptions with the CPU-seconds of every lap summed (dropped where a lap, e.g. of a
        run recorded before laps kept them, has none)."""
        total = dict(assumptions)
        if "cpu_seconds" in total:
            laps = [r.get("cpu_seconds") for r in self.records]
            if all(isinstance(c, int | float) for c in laps):
                total["cpu_seconds"] = sum(laps)
            else:
                del total["cpu_seconds"]
        return total

    def _write(self) -> None:
        assert self.total is not None
        record = {
            "schema": SCHEMA,
            "run_dir": str(self.run_dir),
            "sessions": self.session + 1,
            "total": self.total.to_dict(),
            "co2e": emissions(self.total, self.intensity).to_dict(),
            "epochs": epoch_totals(self.records),
            "records": self.records,
        }
        atomic_write_bytes(self.run_dir / JSON_NAME, (json.dumps(record, indent=2) + "\n").encode(), force=True)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records)
        atomic_write_bytes(self.run_dir / CSV_NAME, text.getvalue().encode(), force=True)

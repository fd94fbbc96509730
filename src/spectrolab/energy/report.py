"""Reports comparing the energy of training runs and inference measurements: a text table and a PNG chart."""

from __future__ import annotations

import io as _io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.energy.carbon import CarbonIntensity, carbon_intensity, emissions
from spectrolab.energy.records import MEASUREMENT_SCHEMA, read_measurement
from spectrolab.energy.result import EnergyResult, format_joules
from spectrolab.errors import EnergyError

TRAINING_RECORD = "energy.json"


@dataclass(frozen=True)
class ReportRow:
    """One bar of the report: ``energy`` per ``unit`` ("run" for training) of the work called ``name``."""

    name: str
    category: str
    unit: str
    energy: EnergyResult
    source: str


def _run_name(run_dir: Path) -> str:
    config = run_dir / "model" / "config.json"
    if config.is_file():
        name = json.loads(config.read_text()).get("name")
        if name:
            return f"{run_dir.name} ({name})"
    return run_dir.name


def _training_row(run_dir: Path) -> ReportRow:
    from spectrolab.training.energy import read_record

    record = read_record(run_dir)
    total = EnergyResult.from_dict(record["total"])
    return ReportRow(_run_name(run_dir), "training", "run", total, str(run_dir))


def _file_rows(path: Path) -> list[ReportRow]:
    text = json.loads(path.read_text()) if path.suffix == ".json" else None
    if isinstance(text, dict) and text.get("schema") == MEASUREMENT_SCHEMA:
        m = read_measurement(path)
        return [ReportRow(m.name, m.category, m.unit, m.energy, str(path))]
    if path.name == TRAINING_RECORD:
        return [_training_row(path.parent)]
    raise EnergyError(f"{path}: neither a training energy record nor an energy measurement")


def collect_rows(paths: list[str | Path]) -> list[ReportRow]:
    """Rows for each path: a run folder holding ``energy.json``, a measurement ``.json`` file, or a folder of
    measurement files (such as ``results/energy``). EnergyError for a path holding none."""
    rows: list[ReportRow] = []
    for item in map(Path, paths):
        if item.is_dir() and (item / TRAINING_RECORD).is_file():
            rows.append(_training_row(item))
        elif item.is_dir():
            found = [r for f in sorted(item.glob("*.json")) for r in _file_rows(f)]
            if not found:
                raise EnergyError(f"{item}: no energy record (energy.json) or measurement files (*.json)")
            rows += found
        elif item.is_file():
            rows += _file_rows(item)
        else:
            raise EnergyError(f"{item}: no such run folder or energy file")
    return rows


def by_category(rows: list[ReportRow]) -> list[tuple[str, list[ReportRow]]]:
    """The rows grouped by category, categories and rows in the order they first appear."""
    return [(c, [r for r in rows if r.category == c]) for c in dict.fromkeys(r.category for r in rows)]


def report_table(rows: list[ReportRow], intensity: CarbonIntensity | None = None) -> str:
    """A plain-text table (rows grouped by category): name, category, per, joules, seconds, g CO2e, method; the
    carbon intensity under it."""
    header = ("name", "category", "per", "energy", "seconds", "g CO2e", "method")
    lines = [header]
    for row in (r for _, members in by_category(rows) for r in members):
        carbon = emissions(row.energy, intensity)
        grams = (
            f"{carbon.grams_low:.3g}-{carbon.grams_high:.3g}" if row.energy.estimated else f"{carbon.grams_high:.3g}"
        )
        per = row.unit + (f" (x{row.energy.repeats})" if row.energy.repeats > 1 else "")
        energy = format_joules(row.energy.joules_low, row.energy.joules_high)
        lines.append((row.name, row.category, per, energy, f"{row.energy.seconds:.4g}", grams, row.energy.method))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1] for line in lines
    ]
    note = (intensity or carbon_intensity()).describe()
    return "\n".join([*out, "", f"carbon intensity: {note}", "(xN): per call, mean of N repeats"])


def report_json(rows: list[ReportRow], intensity: CarbonIntensity | None = None) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "category": r.category,
            "unit": r.unit,
            "source": r.source,
            "energy": r.energy.to_dict(),
            "co2e": emissions(r.energy, intensity).to_dict(),
        }
        for r in rows
    ]


def report_figure(rows: list[ReportRow]) -> plt.Figure:
    """Horizontal bars on a log scale, one per row (the range as an error bar), training and inference apart."""
    groups = by_category(rows)
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 1.2 + 0.45 * len(rows) + 0.6 * len(groups)), squeeze=False)
    for ax, (category, members) in zip(axes[:, 0], groups, strict=True):
        mids = [r.energy.joules for r in members]
        errors = [[r.energy.joules - r.energy.joules_low for r in members],
                  [r.energy.joules_high - r.energy.joules for r in members]]  # fmt: skip
        colours = ["tab:orange" if r.energy.estimated else "tab:blue" for r in members]
        labels = [f"{r.name} (per {r.unit})" for r in members]
        ax.barh(range(len(members)), mids, xerr=errors, color=colours, capsize=3)
        ax.set_yticks(range(len(members)), labels)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("joules (orange: estimated, range as error bar; blue: measured)")
        ax.set_title(category)
    fig.tight_layout()
    return fig


def save_report_figure(rows: list[ReportRow], path: str | Path, *, force: bool = False) -> Path:
    if not rows:
        raise EnergyError("nothing to plot: no energy rows")
    fig = report_figure(rows)
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue(), force=force)

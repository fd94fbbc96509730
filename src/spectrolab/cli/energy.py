"""``--energy`` for commands that run a short block (blur, tag), and ``spectrolab energy report PATH...``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from typing import TypeVar

from spectrolab.cli.train import subcommand_group
from spectrolab.energy.carbon import CarbonIntensity, carbon_intensity, emissions
from spectrolab.energy.meters import create_meter, list_meters
from spectrolab.energy.repeat import measure_call

T = TypeVar("T")


def add_energy_options(p: argparse.ArgumentParser) -> None:
    """``--energy``, ``--energy-json``, ``--energy-meter``, ``--energy-seconds`` and the carbon options."""
    p.add_argument("--energy", action="store_true", help="measure and print the joules per call (repeated >= 2 s)")
    p.add_argument("--energy-json", help="also write the measurement to this JSON file (implies --energy)")
    p.add_argument("--energy-meter", choices=list_meters(), default="auto", help="energy meter (default: auto)")
    p.add_argument("--energy-seconds", type=float, default=2.0, help="repeat the call for at least this long")
    _add_carbon_options(p)


def _add_carbon_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--country", help="carbon intensity of this country's grid (ISO code, offline table)")
    group.add_argument("--g-per-kwh", type=float, help="carbon intensity in g CO2e/kWh (default: world average)")


def intensity_from_args(args: argparse.Namespace) -> CarbonIntensity:
    return carbon_intensity(country=args.country, g_per_kwh=args.g_per_kwh)


def run_measured(args: argparse.Namespace, fn: Callable[[], T], *, name: str, unit: str, units: int = 1) -> T:
    """``fn()``, measured when ``--energy``/``--energy-json`` asked: prints joules per call (and per ``unit`` when
    a call does ``units`` of them) with the method and CO2e; writes ``--energy-json``."""
    if not (args.energy or args.energy_json):
        return fn()
    import torch

    from spectrolab.audio.io import check_writable
    from spectrolab.energy.records import Measurement, write_measurement

    if args.energy_json:
        check_writable(args.energy_json, force=args.force)
    intensity = intensity_from_args(args)
    measured = measure_call(fn, meter=create_meter(args.energy_meter), min_seconds=args.energy_seconds)
    per_call = measured.energy
    print(f"energy: {per_call.describe()}")
    per_unit = per_call if units == 1 else per_call.per_call(units)
    if units != 1:
        print(f"energy per {unit} ({units} per call): {per_unit.describe()}")
    print(f"carbon per {unit}: {emissions(per_unit, intensity).describe()}")
    if args.energy_json:
        command = "spectrolab " + shlex.join(sys.argv[1:])
        record = Measurement(name, per_unit, unit=unit, command=command, threads=torch.get_num_threads())
        print(f"{write_measurement(args.energy_json, record, force=args.force)}")
    return measured.value


def _report(args: argparse.Namespace) -> int:
    from spectrolab.audio.io import check_writable
    from spectrolab.energy.report import collect_rows, report_json, report_table, save_report_figure

    if args.out:
        check_writable(args.out, force=args.force)
    rows = collect_rows(args.paths)
    intensity = intensity_from_args(args)
    if args.json:
        print(json.dumps(report_json(rows, intensity), indent=2))
    else:
        print(report_table(rows, intensity))
    if args.out:
        print(f"{save_report_figure(rows, args.out, force=args.force)}", file=sys.stderr if args.json else sys.stdout)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommand_group(subparsers, "energy", help="energy and carbon reports")
    p = group.add_parser("report", help="table and bar chart of training runs and inference measurements")
    p.add_argument("paths", nargs="+", help="run folders (with energy.json), measurement .json files or folders")
    p.add_argument("--out", help="write a PNG bar chart here")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    _add_carbon_options(p)
    p.set_defaults(run=_report)

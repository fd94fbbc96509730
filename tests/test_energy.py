"""Energy meters, carbon and the training callback, on fake counters (no hardware, no network)."""

from __future__ import annotations

import argparse
import csv
import json
import socket
from pathlib import Path
from typing import ClassVar

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from spectrolab.energy import (
    CombinedMeter,
    EnergyResult,
    EstimateMeter,
    NvmlMeter,
    PowerRange,
    RaplMeter,
    auto_meter,
    carbon_intensity,
    create_meter,
    emissions,
    estimate_joules,
    grams_co2e,
    measure_call,
)
from spectrolab.energy import estimate as estimate_module
from spectrolab.energy.rapl import counted_domains, discover_domains, wrapped_delta
from spectrolab.energy.records import Measurement, read_measurement, write_measurement
from spectrolab.energy.result import in_sequence
from spectrolab.errors import ConfigError, EnergyError
from spectrolab.training.energy import EnergyRecorder, read_record, training_energy


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test here runs with sockets disabled: nothing in spectrolab.energy may touch the network."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# -- fake powercap tree --------------------------------------------------------------------------------------


def zone(root: Path, name: str, label: str, energy_uj: int, max_uj: int = 1_000_000) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "name").write_text(label + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def set_uj(path: Path, value: int) -> None:
    (path / "energy_uj").write_text(f"{value}\n")


@pytest.fixture
def powercap(tmp_path) -> dict[str, Path]:
    """Package 0 with nested core, uncore and DRAM; package 1; an mmio copy of package 0; psys."""
    root = tmp_path / "powercap"
    zones = {
        "pkg0": zone(root, "intel-rapl:0", "package-0", 900_000),
        "core0": zone(root, "intel-rapl:0/intel-rapl:0:0", "core", 100),
        "uncore0": zone(root, "intel-rapl:0/intel-rapl:0:1", "uncore", 100),
        "dram0": zone(root, "intel-rapl:0/intel-rapl:0:2", "dram", 1_000),
        "pkg1": zone(root, "intel-rapl:1", "package-1", 5_000),
        "mmio": zone(root, "intel-rapl-mmio:0", "package-0", 900_000),
        "psys": zone(root, "intel-rapl:2", "psys", 0),
    }
    # sysfs also lists nested zones flat at the top level, as symlinks in /sys/class/powercap
    for key in ("core0", "uncore0", "dram0"):
        (root / zones[key].name).symlink_to(zones[key])
    return {"root": root, **zones}


def test_wrapped_delta():
    assert wrapped_delta(100, 250, 1000) == 150
    assert wrapped_delta(900, 100, 1000) == 200  # wrapped once at 1000 uJ


def test_rapl_counts_packages_and_dram_once(powercap):
    domains = counted_domains(discover_domains(powercap["root"]))
    assert sorted((d.path.name, d.name) for d in domains) == [
        ("intel-rapl:0", "package-0"),
        ("intel-rapl:0:2", "dram"),
        ("intel-rapl:1", "package-1"),
    ]


def test_rapl_meter_wraparound_and_nested_domains(powercap):
    meter = RaplMeter(root=powercap["root"], poll_seconds=None)
    with meter:
        set_uj(powercap["pkg0"], 100_000)  # wrapped: 900,000 -> 1,000,000 -> 100,000 = 200,000 uJ
        set_uj(powercap["core0"], 999_000)  # nested in the package: never added
        set_uj(powercap["uncore0"], 999_000)
        set_uj(powercap["dram0"], 51_000)  # 50,000 uJ
        set_uj(powercap["pkg1"], 305_000)  # 300,000 uJ
        set_uj(powercap["mmio"], 100_000)  # copy of package-0: never added
        set_uj(powercap["psys"], 999_999)  # whole SoC: not added to packages
    assert meter.result is not None
    assert meter.result.joules_low == meter.result.joules_high == pytest.approx(0.55)
    assert meter.result.method == "measured (RAPL package+DRAM)"
    assert not meter.result.estimated


def test_rapl_poll_catches_several_wraps(powercap):
    meter = RaplMeter(root=powercap["root"], poll_seconds=None)
    meter.start()
    for value in (400_000, 800_000, 200_000, 600_000):  # pkg0 from 900,000: +500k +400k +400k +400k
        set_uj(powercap["pkg0"], value)
        meter.poll()
    assert meter.stop().joules_low == pytest.approx(1.7)


def test_rapl_psys_only_when_no_package(tmp_path):
    root = tmp_path / "pc"
    zone(root, "intel-rapl:0", "psys", 0)
    zone(root, "intel-rapl:0/intel-rapl:0:0", "core", 0)
    assert [d.name for d in counted_domains(discover_domains(root))] == ["psys"]


def test_rapl_missing_tree_is_energy_error(tmp_path):
    with pytest.raises(EnergyError, match="no readable RAPL"):
        RaplMeter(root=tmp_path / "absent")


# -- fake NVML -----------------------------------------------------------------------------------------------


class FakeNvml:
    """The few pynvml functions the meter uses; each energy read advances the counter of GPU i by step[i] mJ."""

    def __init__(self, steps=(1_500, 500), name=b"NVIDIA H200"):
        self.steps, self.name = list(steps), name
        self.energy_mj = [10_000] * len(steps)
        self.reads = 0

    def nvmlInit(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.steps)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, handle):
        return self.name

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.reads += 1
        self.energy_mj[handle] += self.steps[handle]
        return self.energy_mj[handle]


def test_nvml_meter_deltas_and_synchronises_both_sides():
    fake, syncs = FakeNvml(), []
    meter = NvmlMeter(nvml=fake, devices=[0, 1], synchronize=lambda: syncs.append(fake.reads))
    with meter:
        pass
    assert meter.result is not None
    assert meter.result.joules_low == pytest.approx(2.0)  # (1500 + 500) mJ between the two snapshots
    assert meter.result.method == "measured (NVML GPU 0,1)"
    assert meter.result.assumptions["gpus"] == ["NVIDIA H200", "NVIDIA H200"]
    assert len(syncs) == 2 and syncs[1] > syncs[0]  # synchronised before each reading


def test_nvml_bad_device_and_missing_library():
    with pytest.raises(EnergyError, match="not among"):
        NvmlMeter(nvml=FakeNvml(), devices=[5])


def test_auto_prefers_rapl_then_adds_nvml(powercap, tmp_path):
    assert isinstance(auto_meter(powercap_root=powercap["root"], gpu=False), RaplMeter)
    combined = auto_meter(powercap_root=tmp_path / "absent", nvml=FakeNvml(steps=(1000,)))
    assert isinstance(combined, CombinedMeter)
    with combined:
        pass
    assert combined.result is not None
    assert (
        combined.result.method.startswith("estimated (CPU-seconds")
        and "+ measured (NVML GPU 0)" in combined.result.method
    )
    assert combined.result.joules_low >= 1.0 and combined.result.estimated


def test_auto_falls_back_to_estimate(tmp_path, monkeypatch):
    monkeypatch.setattr("spectrolab.energy.nvml.importlib.import_module", _no_module)
    assert isinstance(auto_meter(powercap_root=tmp_path / "absent"), EstimateMeter)
    with pytest.raises(ConfigError, match="unknown energy meter"):
        create_meter("wattmeter")


def _no_module(name):
    raise ImportError(name)


# -- estimate ------------------------------------------------------------------------------------------------


def test_estimate_arithmetic():
    low, high = estimate_joules(2.0, 3.0, cpu_watts_per_core=PowerRange(3, 10), ram_watts=PowerRange(0.5, 3))
    assert (low, high) == (2 * 3 + 3 * 0.5, 2 * 10 + 3 * 3)


def test_estimate_meter_label_and_range(monkeypatch):
    clock = iter([(100.0, 50.0), (104.0, 51.5)])  # 4 s wall, 1.5 CPU-seconds
    meter = EstimateMeter(cpu_watts_per_core="4:8", ram_watts=1.0)
    monkeypatch.setattr(meter, "snapshot", lambda: next(clock))
    with meter:
        pass
    r = meter.result
    assert r is not None and r.estimated
    assert (r.joules_low, r.joules_high, r.seconds) == (1.5 * 4 + 4 * 1.0, 1.5 * 8 + 4 * 1.0, 4.0)
    assert r.method == "estimated (CPU-seconds x 4-8 W/core + RAM 1 W x wall)"
    assert r.assumptions["cpu_watts_per_core"] == [4.0, 8.0] and r.assumptions["cpu_seconds"] == 1.5


def test_estimate_counts_real_cpu_time():
    meter = EstimateMeter(cpu_watts_per_core=10, ram_watts=0)
    with meter:
        total = 0
        while meter.snapshot()[1] - meter._begin[1] < 0.05:
            total += sum(range(1000))
    assert meter.result is not None and meter.result.joules_low >= 0.5 - 1e-9


@pytest.mark.parametrize("bad", ["-1", "5:2", "abc", "1:2:3", float("nan")])
def test_bad_watts_are_config_errors(bad):
    with pytest.raises(ConfigError, match="cpu_watts_per_core"):
        EstimateMeter(cpu_watts_per_core=bad)


def test_process_cpu_seconds_includes_children(monkeypatch):
    class Times:
        user, system, children_user, children_system = 1.0, 0.5, 2.0, 0.25

    monkeypatch.setattr(estimate_module.os, "times", lambda: Times)
    assert estimate_module.process_cpu_seconds() == 3.75


# -- results, carbon, repetition -----------------------------------------------------------------------------


def test_result_rejects_negative_and_divides_per_call():
    with pytest.raises(EnergyError):
        EnergyResult(joules_low=2, joules_high=1, seconds=1, method="x")
    r = EnergyResult(joules_low=10, joules_high=30, seconds=2, method="m").per_call(4)
    assert (r.joules_low, r.joules_high, r.seconds, r.repeats, r.joules) == (2.5, 7.5, 0.5, 4, 5.0)
    assert "mean of 4 repeats" in r.describe() and EnergyResult.from_dict(r.to_dict()) == r


def test_carbon_arithmetic_and_sources():
    world = carbon_intensity()
    assert world.g_per_kwh == 480 and world.year == 2023 and "Ember" in world.source
    assert grams_co2e(3.6e6, world) == 480.0
    france = carbon_intensity(country="fr")
    assert france.g_per_kwh == 56 and france.region == "FR" and france.year == 2023
    result = EnergyResult(joules_low=3.6e5, joules_high=7.2e5, seconds=1, method="m")
    e = emissions(result, carbon_intensity(g_per_kwh=100))
    assert (e.grams_low, e.grams_high) == pytest.approx((10.0, 20.0))
    assert "world average" in world.describe() and "2023" in world.describe()


def test_carbon_bad_input():
    with pytest.raises(ConfigError, match="unknown country code 'XX'"):
        carbon_intensity(country="XX")
    with pytest.raises(ConfigError, match=">= 0"):
        carbon_intensity(g_per_kwh=-5)
    with pytest.raises(ConfigError, match="not both"):
        carbon_intensity(country="FR", g_per_kwh=5)


def test_measure_call_repeats_until_min_seconds(powercap):
    calls = []
    meter = RaplMeter(root=powercap["root"], poll_seconds=None)

    def block():
        calls.append(1)
        value = 950_000 + 10_000 * len(calls)  # 10 mJ per call on package 0, wrapping once within 8 calls
        set_uj(powercap["pkg0"], value % 1_000_000)
        return "done"

    # Without polling, a meter can only see one wrap between two readings: at most 8 calls keep it to one.
    measured = measure_call(block, meter=meter, min_seconds=0.05, warmup=1, max_repeats=8)
    repeats = measured.energy.repeats
    assert measured.value == "done" and repeats >= 1 and len(calls) == repeats + 1
    assert measured.energy.joules_low == pytest.approx(0.01)
    assert "per call, mean of" in measured.energy.describe() or repeats == 1


# -- the Lightning callback ----------------------------------------------------------------------------------


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def tiny_fit(out: Path, *, max_epochs: int, ckpt_path: str | None = None) -> L.Trainer:
    data = TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
    trainer = L.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=2,
        default_root_dir=out,
        callbacks=[EnergyRecorder(out, meter="estimate")],
    )
    loader = DataLoader(data, batch_size=4)
    trainer.fit(Tiny(), loader, DataLoader(data, batch_size=8), ckpt_path=ckpt_path)
    return trainer


def test_callback_records_monotone_and_resumes(tmp_path, one_thread):
    trainer = tiny_fit(tmp_path, max_epochs=2)
    first = read_record(tmp_path)
    rows = first["records"]
    assert {r["event"] for r in rows} == {"validation", "epoch", "end"}
    assert [r["epoch"] for r in first["epochs"]] == [0, 1]
    for row in rows:
        assert row["joules_low"] >= 0 and row["joules_high"] >= row["joules_low"] and row["seconds"] >= 0
    totals = [r["total_joules_high"] for r in rows]
    assert totals == sorted(totals) and totals[-1] == pytest.approx(sum(r["joules_high"] for r in rows))
    assert first["total"]["method"].startswith("estimated (CPU-seconds x 3-10 W/core")
    with open(tmp_path / "energy.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    ckpt = trainer.checkpoint_callback.best_model_path  # type: ignore[union-attr]
    tiny_fit(tmp_path, max_epochs=3, ckpt_path=ckpt)
    second = read_record(tmp_path)
    assert second["sessions"] == 2 and second["records"][: len(rows)] == rows
    assert {r["session"] for r in second["records"][len(rows) :]} == {1}
    totals = [r["total_joules_high"] for r in second["records"]]
    assert totals == sorted(totals) and second["total"]["joules_high"] >= first["total"]["joules_high"]
    summary = training_energy(tmp_path)
    assert summary is not None and summary["joules"] == [second["total"]["joules_low"], totals[-1]]
    # The total's CPU-seconds are every lap's, so that the stated assumptions give back the stated joules.
    cpu = summary["assumptions"]["cpu_seconds"]
    assert cpu == pytest.approx(sum(r["cpu_seconds"] for r in second["records"]))
    assert summary["joules"][0] == pytest.approx(3.0 * cpu + 0.5 * summary["seconds"])
    assert summary["carbon_intensity"]["g_per_kwh"] == 480 and summary["co2e_grams"][1] > 0
    json.dumps(summary)


def test_training_energy_absent_and_malformed(tmp_path):
    assert training_energy(tmp_path) is None
    (tmp_path / "energy.json").write_text("{}")
    with pytest.raises(EnergyError, match="schema"):
        read_record(tmp_path)


# -- CodeCarbon ----------------------------------------------------------------------------------------------


class FakeTracker:
    made: ClassVar[list[FakeTracker]] = []

    def __init__(self):
        self.started = self.stopped = False
        FakeTracker.made.append(self)

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True
        index = FakeTracker.made.index(self)

        class Data:
            energy_consumed, cpu_energy, ram_energy, gpu_energy = 1e-6 * (index + 1), 6e-7, 4e-7, 0.0
            cpu_power, ram_power, gpu_power, duration, codecarbon_version = 8.0, 10.0, 0.0, 1.5, "3.3.2"

        self.final_emissions_data = Data


def test_codecarbon_meter_laps_with_fresh_trackers():
    from spectrolab.energy.codecarbon import CodeCarbonMeter

    FakeTracker.made = []
    meter = CodeCarbonMeter(tracker_factory=FakeTracker)
    meter.start()
    first = meter.lap()
    last = meter.stop()
    assert [t.stopped for t in FakeTracker.made] == [True, True]  # no tracker left running
    assert (first.joules_low, last.joules_low) == pytest.approx((3.6, 7.2))
    assert first.method.startswith("estimated by CodeCarbon 3.3.2 offline") and first.estimated


def test_codecarbon_offline_for_real_touches_no_network():
    """The real OfflineEmissionsTracker on this machine, sockets disabled (the autouse fixture)."""
    from spectrolab.energy.codecarbon import CodeCarbonMeter

    with pytest.raises(ConfigError, match="unknown country code"):
        CodeCarbonMeter(country="XX")
    meter = CodeCarbonMeter(country="FR", measure_power_secs=0.5)
    with meter:
        sum(range(200_000))
    assert meter.result is not None and meter.result.joules_low > 0
    assert "CodeCarbon" in meter.result.method


# -- command line: run_measured and energy report ------------------------------------------------------------


def test_run_measured_prints_per_call_and_per_unit(tmp_path, capsys):
    from spectrolab.cli.energy import run_measured

    args = argparse.Namespace(
        energy=False, energy_json=str(tmp_path / "m.json"), energy_meter="estimate", energy_seconds=0.05,
        country=None, g_per_kwh=100.0, force=False,
    )  # fmt: skip
    calls = []
    assert run_measured(args, lambda: calls.append(1) or len(calls), name="tagging", unit="song", units=4) == 1
    out = capsys.readouterr().out
    assert "energy: " in out and "energy per song (4 per call): " in out and "at 100 g CO2e/kWh (user-given" in out
    record = read_measurement(tmp_path / "m.json")
    assert record.unit == "song" and record.energy.repeats == 4 * (len(calls) - 1)
    args.energy_json = None
    assert run_measured(args, lambda: "plain", name="x", unit="call") == "plain"  # no --energy: just the call
    assert capsys.readouterr().out == ""


def test_energy_report_table_png_json_and_errors(tmp_path, capsys, one_thread):
    from spectrolab.cli.main import main

    run = tmp_path / "codec_run"
    tiny_fit(run, max_epochs=1)
    measurements = tmp_path / "results"
    for name, joules in (("edit, prior nb", 0.3), ("edit, prior transformer", 4.0)):
        energy = EnergyResult(joules_low=joules, joules_high=2 * joules, seconds=0.1, method="estimated (x)",
                              estimated=True, repeats=20)  # fmt: skip
        write_measurement(measurements / f"{name.split()[-1]}.json", Measurement(name, energy, unit="edit"))
    png = tmp_path / "report.png"
    assert main(["energy", "report", str(run), str(measurements), "--out", str(png)]) == 0
    table = capsys.readouterr().out
    assert "codec_run" in table and "training" in table and "edit, prior transformer" in table
    assert "0.3-0.6 J" in table and "edit (x20)" in table and "480 g CO2e/kWh (world average" in table
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["energy", "report", str(measurements / "nb.json"), "--json", "--country", "FR"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["co2e"]["intensity"]["g_per_kwh"] == 56 and row["energy"]["joules_high"] == 0.6
    assert main(["energy", "report", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["energy", "report", str(run), "--country", "ZZ"]) == 2
    assert "unknown country code 'ZZ'" in capsys.readouterr().err


def test_combined_meter_starts_and_stops_its_parts(powercap):
    rapl = RaplMeter(root=powercap["root"], poll_seconds=0.01)
    combined = CombinedMeter([rapl, NvmlMeter(nvml=FakeNvml(steps=(1000,)))])
    with combined:
        assert rapl._poller is not None  # RAPL polls in the background inside a combined meter too
    assert rapl._poller is None and combined.result is not None
    assert combined.result.method == "measured (RAPL package+DRAM) + measured (NVML GPU 0)"


def test_every_shipped_model_config_carries_its_training_energy():
    from spectrolab.paths import ASSETS

    for name in ("codec_default", "codec_notono", "prior_nb", "prior_transformer", "tagger_default", "tagger_notes"):
        entry = json.loads((ASSETS / name / "config.json").read_text())["metadata"]["training_energy"]
        low, high = entry["joules"]
        assert 0 < low <= high and "estimated" in entry["method"], name
        assert entry["co2e_grams"][0] <= entry["co2e_grams"][1] and entry["carbon_intensity"]["year"], name


def test_segments_in_sequence_add_their_cpu_seconds():
    meter = EstimateMeter(cpu_watts_per_core=(3.0, 10.0), ram_watts=(0.5, 3.0))
    laps = [meter.between((0.0, 0.0), (10.0, 0.0)), meter.between((10.0, 0.0), (20.0, 8.0))]
    total = in_sequence(laps)
    assert total.assumptions["cpu_seconds"] == pytest.approx(8.0)
    assert total.seconds == pytest.approx(20.0)
    assert total.joules_low == pytest.approx(8.0 * 3.0 + 20.0 * 0.5)

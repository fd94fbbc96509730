"""This machine's energy figures: per edit (Naive Bayes and Transformer priors), per tagged song, per training
note of the codec, and the shipped models' training; then their meaning at scale, with the arithmetic shown.

Writes ``results/energy/*.json`` (``spectrolab.energy.measurement/1``; ``spectrolab energy report
results/energy`` tables and plots them) and ``results/energy.md`` (spliced into the README by
``scripts/results.py``). The edits and the tagging are measured through the command line's ``--energy-json``
(the very figures ``spectrolab blur --energy`` prints), one BLAS thread, with the shipped models.

    PYTHONPATH=src python scripts/energy_results.py
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from spectrolab.audio import io
from spectrolab.audio.io import atomic_write_bytes
from spectrolab.cli.main import main as cli
from spectrolab.codec import DEFAULT_CODEC_DIR
from spectrolab.energy import EnergyResult, carbon_intensity, create_meter, estimate_joules, measure_call
from spectrolab.energy.estimate import DEFAULT_CPU_WATTS_PER_CORE, DEFAULT_RAM_WATTS, PowerRange
from spectrolab.energy.records import Measurement, read_measurement, write_measurement
from spectrolab.energy.result import JOULES_PER_KWH
from spectrolab.priors.api import ASSETS
from spectrolab.training.codec import CodecModule, crop_samples
from spectrolab.training.energy import energy_entry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path("src/spectrolab/assets/example_note.wav")  # relative to ROOT, the working folder
COMMAND = "PYTHONPATH=src python scripts/energy_results.py"
NSYNTH_NOTES = 305_979
LUCCIONI_KWH_PER_1000 = (0.002, 0.007)  # Luccioni et al., FAccT 2024: image/text classification on an A100


def measure_cli_edits(out: Path, tmp: Path) -> dict[str, Measurement]:
    found = {}
    for prior in ("nb", "transformer"):
        record = out / f"edit_{prior}.json"
        argv = ["blur", str(EXAMPLE), "--time", "1.0:2.0", "--freq", "300:3000", "--prior", prior]
        argv += ["-o", str(tmp / f"{prior}.wav"), "--energy-json", str(record), "--force"]
        print("spectrolab", " ".join(argv), flush=True)
        if cli(argv) != 0:
            raise SystemExit(f"blur --energy failed for prior {prior}")
        found[prior] = read_measurement(record)
    return found


def measure_cli_tagging(out: Path, tmp: Path, seconds: float) -> Measurement:
    wave = io.load(EXAMPLE, sample_rate=16000)
    song = wave.repeat(1, int(seconds * 16000) // wave.shape[-1] + 1)[:, : int(seconds * 16000)]
    path = io.save(tmp / "song.wav", song[0], sample_rate=16000, force=True)
    record = out / "tag_song.json"
    argv = ["tag", str(path), "--energy-json", str(record), "--force"]
    print("spectrolab", " ".join(argv), f"  # a {seconds:g} s track: the example note repeated", flush=True)
    if cli(argv) != 0:
        raise SystemExit("tag --energy failed")
    return read_measurement(record)


def measure_codec_training(out: Path, *, batch_size: int) -> Measurement:
    """One optimiser step of the shipped codec's preset on ``batch_size`` 1 s crops, per note-crop."""
    config = json.loads((DEFAULT_CODEC_DIR / "config.json").read_text())
    module = CodecModule(config["name"], learning_rate=1e-3, audio_weight=0.0)
    optimiser = module.configure_optimizers()
    wave = io.load(EXAMPLE, sample_rate=module.model.sample_rate)[0]
    crop = wave[: crop_samples(module.model, 1.0)]
    batch = torch.stack([torch.roll(crop, 37 * i) for i in range(batch_size)])

    def step() -> None:
        optimiser.zero_grad()
        loss = module.training_step(batch, 0)
        loss.backward()
        optimiser.step()

    module.log = lambda *args, **kwargs: None  # type: ignore[method-assign]  # no trainer attached
    measured = measure_call(step, meter=create_meter("auto"), min_seconds=4.0)
    per_note = measured.energy.per_call(batch_size)
    name = f"codec training ({config['name']}), per 1 s note crop"
    threads = torch.get_num_threads()
    record = Measurement(name, per_note, unit="note", category="training", command=COMMAND, threads=threads)
    write_measurement(out / "train_codec_per_note.json", record, force=True)
    return record


def afterwards(seconds: float, threads: tuple[int, int]) -> EnergyResult:
    """A training run's energy estimated after the fact from its recorded wall time (no meter ran)."""
    cpu, ram = PowerRange(*DEFAULT_CPU_WATTS_PER_CORE), PowerRange(*DEFAULT_RAM_WATTS)
    low, _ = estimate_joules(seconds * threads[0], seconds, cpu_watts_per_core=cpu, ram_watts=ram)
    _, high = estimate_joules(seconds * threads[1], seconds, cpu_watts_per_core=cpu, ram_watts=ram)
    label = threads[0] if threads[0] == threads[1] else f"{threads[0]}-{threads[1]}"
    return EnergyResult(
        joules_low=low,
        joules_high=high,
        seconds=seconds,
        method=f"estimated afterwards (recorded training time x {label} busy thread(s) x {cpu} W/core + RAM {ram} W "
        "x wall; no meter ran)",
        assumptions={
            "cpu_watts_per_core": [cpu.low, cpu.high],
            "ram_watts": [ram.low, ram.high],
            "threads": list(threads),
        },
        estimated=True,
    )


def run_energy(meta: dict) -> EnergyResult:
    """One training run's energy from its metadata: what its recorder measured during training, else an estimate
    from the training time it records (the after-the-fact estimate this script once wrote is made again)."""
    entry = meta.get("training_energy")
    if entry and not entry.get("estimated_afterwards"):
        return EnergyResult(
            joules_low=entry["joules"][0], joules_high=entry["joules"][1], seconds=entry["seconds"],
            method=entry["method"], assumptions=entry.get("assumptions", {}), estimated=True,
        )  # fmt: skip
    budget = meta.get("budget") if isinstance(meta.get("budget"), dict) else {}
    if "train_seconds_total" in budget or "seconds" in budget:
        seconds = float(budget.get("train_seconds_total", budget.get("seconds")))
        return afterwards(seconds, (int(budget["threads"]),) * 2)
    if "fit_seconds" in meta:
        return afterwards(float(meta["fit_seconds"]), (1, 1))
    return afterwards(float(meta["train_seconds"]), (1, 2))  # torch's default threads on a 2-core machine


def weights_energy(meta: dict) -> tuple[EnergyResult, int]:
    """The energy of a model's weights: its own run plus, through its warm start, every run it started from
    (their budgets travel in ``warm_start.source_budget``); and how many runs that is."""
    own, runs = run_energy(meta), 1
    source = (meta.get("warm_start") or {}).get("source_budget")
    if meta.get("warm_start") and not source:
        return replace(own, method=f"{own.method}; its warm start's own runs are not in its config"), runs
    if not source:
        return own, runs
    before, more = weights_energy(source)
    total = EnergyResult(
        joules_low=own.joules_low + before.joules_low, joules_high=own.joules_high + before.joules_high,
        seconds=own.seconds + before.seconds, estimated=True,
        method=f"{own.method}; plus its warm start's {more} run(s), from their configs",
        assumptions={"runs": [own.to_dict(), *([before.to_dict()] if more == 1 else before.assumptions["runs"])]},
    )  # fmt: skip
    return total, runs + more


def shipped_training(out: Path) -> dict[str, tuple[Measurement, int]]:
    """The shipped models' training energy, as their configs record it (warm starts' runs included), and the
    number of runs behind each."""
    found = {}
    for name in ("codec_default", "codec_notono", "prior_nb", "prior_transformer", "tagger_default", "tagger_notes"):
        meta = json.loads((ASSETS / name / "config.json").read_text())["metadata"]
        energy, runs = weights_energy(meta)
        record = Measurement(f"shipped {name} training ({runs} run{'s' if runs > 1 else ''})", energy, unit="run",
                             category="training", command=COMMAND)  # fmt: skip
        write_measurement(out / f"shipped_{name}.json", record, force=True)
        record_in_config(ASSETS / name, run_energy(meta))  # only where no recorder measured the run
        found[name] = (record, runs)
    return found


def record_in_config(model_dir: Path, energy: EnergyResult) -> None:
    """Put the after-the-fact estimate into the shipped model's config as its ``training_energy`` (labelled
    so), unless a recorder measured the training itself. The weights, and so their hash, are untouched."""
    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    present = config["metadata"].get("training_energy")
    if present and not present.get("estimated_afterwards"):
        return
    config["metadata"]["training_energy"] = {**energy_entry(energy), "estimated_afterwards": True, "by": COMMAND}
    atomic_write_bytes(path, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode(), force=True)


def kwh(joules: float) -> str:
    return f"{joules / JOULES_PER_KWH:.3g}"


def markdown(edits, song, per_note, shipped, song_seconds: float, tagger: str) -> str:
    world = carbon_intensity()
    g = world.g_per_kwh
    nb, tf = edits["nb"].energy, edits["transformer"].energy
    s = song.energy
    n = per_note.energy
    codec_meta = json.loads((DEFAULT_CODEC_DIR / "config.json").read_text())["metadata"]
    steps, batch = codec_meta["budget"]["steps"], codec_meta["train_config"]["batch_size"]
    notes = codec_meta["train_config"]["train_notes"]
    passes = steps * batch / notes
    luc_low, luc_high = (k * JOULES_PER_KWH / 1000 for k in LUCCIONI_KWH_PER_1000)
    rows = [
        ("edit, Naive Bayes prior", "edit", nb),
        ("edit, Transformer prior", "edit", tf),
        (f"tagging a {song_seconds:g} s track (shipped `{tagger}`)", "song", s),
        ("codec training, one 1 s note crop", "note", n),
        *(
            (f"training of shipped `{k}`" + (f" ({n} runs: warm starts)" if n > 1 else ""), "weights", m.energy)
            for k, (m, n) in shipped.items()
        ),
    ]
    table = ["| what | per | joules | seconds | method |", "|---|---|---|---|---|"]
    for what, per, e in rows:
        rep = f" (mean of {e.repeats})" if e.repeats > 1 else ""
        table.append(f"| {what} | {per}{rep} | {e.joules_low:.3g}-{e.joules_high:.3g} | {e.seconds:.3g} | {e.method} |")
    million_low, million_high = nb.joules_low * 1e6, nb.joules_high * 1e6
    full_low, full_high = n.joules_low * NSYNTH_NOTES, n.joules_high * NSYNTH_NOTES
    goal = "met" if nb.joules_high <= 1.0 else ("met at the low end only" if nb.joules_low <= 1.0 else "not met")
    lines = [
        "All figures are **estimates** (this machine has no RAPL or perf power counters): CPU-seconds x 3-10 W per",
        "busy core + 0.5-3 W of RAM x wall time, one BLAS thread, on a shared 2-core machine; short blocks repeated",
        f"for at least 2 s and divided. Carbon at {world.describe()}.",
        "",
        *table,
        "",
        f"- **Goal, a Naive Bayes edit costs at most 1 J: {goal}** ({nb.joules_low:.3g}-{nb.joules_high:.3g} J per "
        "edit of the bundled example, `spectrolab blur src/spectrolab/assets/example_note.wav --time 1.0:2.0 "
        "--freq 300:3000 -o out.wav --energy`). The Transformer edit costs "
        f"{tf.joules / nb.joules:.1f}x as much ({tf.joules_low:.3g}-{tf.joules_high:.3g} J).",
        f"- **One million Naive Bayes edits:** {nb.joules_low:.3g}-{nb.joules_high:.3g} J x 1e6 = "
        f"{million_low:.3g}-{million_high:.3g} J = {kwh(million_low)}-{kwh(million_high)} kWh "
        f"(/ 3.6e6 J/kWh), x {g:g} g/kWh = {million_low / JOULES_PER_KWH * g / 1000:.3g}-"
        f"{million_high / JOULES_PER_KWH * g / 1000:.3g} kg CO2e. With the Transformer: "
        f"{kwh(tf.joules_low * 1e6)}-{kwh(tf.joules_high * 1e6)} kWh.",
        f"- **Training the codec on the full NSynth (305,979 notes):** {n.joules_low:.3g}-{n.joules_high:.3g} J per "
        f"1 s note crop (one optimiser step of batch 8, divided by 8) x 305,979 = {full_low / 1e3:.3g}-"
        f"{full_high / 1e3:.3g} kJ = {kwh(full_low)}-{kwh(full_high)} kWh per pass over the notes. The shipped codec "
        f"saw each of its {notes:,} notes {passes:.1f} times in its last run ({steps} steps x {batch} / {notes:,}); "
        "as many passes over "
        f"NSynth: {kwh(full_low * passes)}-{kwh(full_high * passes)} kWh, "
        f"{full_low * passes / JOULES_PER_KWH * g / 1000:.3g}-{full_high * passes / JOULES_PER_KWH * g / 1000:.3g} "
        "kg CO2e.",
        "- **Against published per-inference figures:** Luccioni et al. (FAccT 2024) measured 0.002-0.007 kWh per "
        f"1,000 image or text classifications on an A100, i.e. {luc_low:.3g}-{luc_high:.3g} J each "
        "(0.002 x 3.6e6 / 1000). Tagging one track here costs "
        f"{s.joules_low:.3g}-{s.joules_high:.3g} J ({s.joules_low / luc_high:.2g}-{s.joules_high / luc_low:.2g}x "
        f"theirs); one Naive Bayes edit {nb.joules_low:.3g}-{nb.joules_high:.3g} J "
        f"({nb.joules_low / luc_high:.2g}-{nb.joules_high / luc_low:.2g}x). Theirs are measured on a GPU with "
        "larger models; ours are CPU estimates.",
        "- On a loaded machine the wall time, and so the RAM term, grows while the CPU-seconds stay: the high end "
        "is pessimistic there.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/energy", help="folder of measurement JSON files")
    parser.add_argument("--song-seconds", type=float, default=30.0, help="length of the tagged track")
    parser.add_argument("--batch-size", type=int, default=8, help="codec training batch (the shipped recipe's)")
    parser.add_argument("--shipped-only", action="store_true", help="only the shipped models' training estimates")
    args = parser.parse_args()
    os.chdir(ROOT)
    torch.set_num_threads(1)
    out = Path(args.out)
    if args.shipped_only:
        shipped_training(out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        edits = measure_cli_edits(out, Path(tmp))
        song = measure_cli_tagging(out, Path(tmp), args.song_seconds)
    per_note = measure_codec_training(out, batch_size=args.batch_size)
    shipped = shipped_training(out)
    tagger = json.loads((ASSETS / "tagger_default" / "config.json").read_text())["name"]
    text = markdown(edits, song, per_note, shipped, args.song_seconds, tagger)
    (ROOT / "results/energy.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

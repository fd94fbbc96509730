"""Train the shipped priors: encode an NSynth-format note dataset with the codec, fit Naive Bayes, train the
Transformer, and save both beside the codec (src/spectrolab/assets/prior_nb, prior_transformer).

The dataset is rendered first if ``--data`` does not exist (``spectrolab data render`` with the recipe below).
Encoded grids are cached in ``--cache`` for scripts/prior_results.py. Every saved model's config records this
command, the data recipe, the codec, the seed and the budget.

    PYTHONPATH=src python scripts/train_priors.py --minutes 12
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from spectrolab.codec import DEFAULT_CODEC_DIR, load_codec
from spectrolab.data.merge import MERGE_MANIFEST
from spectrolab.data.nsynth import NSynthDataset
from spectrolab.data.nsynth_format import MANIFEST_FILE
from spectrolab.data.nsynth_render import RenderConfig, render_nsynth
from spectrolab.energy import create_meter
from spectrolab.models import count_parameters, create_model, save_model_dir
from spectrolab.models.registry import WEIGHTS_NAME
from spectrolab.priors import bits_per_code
from spectrolab.priors.api import ASSETS
from spectrolab.training.codec import pitch_covering
from spectrolab.training.energy import energy_entry, training_energy
from spectrolab.training.prior import EncodedGrids, TrainingBudget, encode_dataset, train_transformer_prior
from spectrolab.training.warm_start import WarmStart

ROOT = Path(__file__).resolve().parent.parent
# What a warm-started transformer's config records of its source's training (see WarmStart.record).
SOURCE_BUDGET = ("trained_by", "budget", "train_seconds", "final", "training_energy", "trained_on", "warm_start")


def render_recipe(args: argparse.Namespace) -> RenderConfig:
    return RenderConfig(soundfont=args.soundfont, seed=args.seed, max_per_program=args.per_program)


def encoded_split(args: argparse.Namespace, split: str, *, every: int = 1) -> EncodedGrids:
    """The grids of one split (every ``every``-th note), from the cache or encoded now (and cached)."""
    path = Path(args.cache) / (f"{split}.safetensors" if every == 1 else f"{split}_every{every}.safetensors")
    if path.is_file() and not args.reencode:
        return EncodedGrids(**load_file(str(path)))
    if not Path(args.data).is_dir():
        print(f"rendering {render_recipe(args)} into {args.data}", flush=True)
        render_nsynth(render_recipe(args), args.data, workers=args.workers)
    started = time.perf_counter()
    dataset = NSynthDataset(args.data, split, fields=("pitch", "instrument_family"))
    indices = None if every == 1 else range(0, len(dataset), every)
    if args.max_notes is not None and args.max_notes < len(dataset):
        if every != 1:
            raise SystemExit("--max-notes and --valid-every do not combine")
        indices = pitch_covering([e["pitch"] for e in dataset.examples], args.max_notes, seed=args.seed)
    encoded = encode_dataset(dataset, load_codec(args.codec), indices=indices)
    print(f"encoded {split}: {tuple(encoded.grids.shape)} in {time.perf_counter() - started:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in encoded.tensors().items()}, str(path))
    return encoded


def _merged_sources(data: Path) -> dict:
    """The sources of a dataset made by ``spectrolab data merge`` (their own render manifests), if it is one."""
    manifest = data / MERGE_MANIFEST
    if not manifest.is_file():
        return {}
    sources = json.loads(manifest.read_text())["sources"]
    renders = {}
    for name, folder in sources.items():
        render = Path(folder) / MANIFEST_FILE
        renders[name] = json.loads(render.read_text())["config"] if render.is_file() else {"dir": folder}
    return {"merged_from": renders}


def provenance(args: argparse.Namespace) -> dict:
    return {
        "trained_by": "PYTHONPATH=src python scripts/train_priors.py " + shlex.join(sys.argv[1:]),
        "data": {
            "dir": str(args.data),
            "render": {
                k: v
                for k, v in asdict(render_recipe(args)).items()
                if k in ("soundfont", "seed", "max_per_program", "sample_rate", "duration", "hold")
            },
            "split": "train",
            "max_notes_per_split": args.max_notes,
            "valid_every": args.valid_every,
            **_merged_sources(Path(args.data)),
        },
        "codec": str(args.codec or DEFAULT_CODEC_DIR.relative_to(ROOT / "src")),
        "codec_name": json.loads((Path(args.codec or DEFAULT_CODEC_DIR) / "config.json").read_text())["name"],
        "codec_sha256": hashlib.sha256((Path(args.codec or DEFAULT_CODEC_DIR) / WEIGHTS_NAME).read_bytes()).hexdigest(),
        "seed": args.seed,
    }


def fit_naive_bayes(args: argparse.Namespace, train: EncodedGrids, valid: EncodedGrids) -> None:
    height = train.grids.shape[1]
    nb = create_model(
        "prior_naive_bayes",
        codebook_size=load_codec(args.codec).codebook_sizes[0],
        height=height,
        offsets=json.loads(args.nb_offsets),
        alpha=args.nb_alpha,
        neighbour_vocab=args.nb_vocab,
    )
    started = time.perf_counter()
    with create_meter("auto") as meter:
        nb.fit(train.grids, conditioning=train.conditioning)
    seconds = time.perf_counter() - started
    bits = bits_per_code(nb, valid.grids, conditioning=valid.conditioning)
    print(f"naive bayes: fitted in {seconds:.2f} s, valid {bits:.3f} bits/code", flush=True)
    metadata = {**provenance(args), "fit_seconds": seconds, "valid_bits_per_code": bits}
    assert meter.result is not None
    metadata["training_energy"] = energy_entry(meter.result)
    save_model_dir(nb, Path(args.out) / "prior_nb", metadata=metadata, force=args.force)


def train_transformer(args: argparse.Namespace, train: EncodedGrids, valid: EncodedGrids) -> None:
    torch.manual_seed(args.seed)
    shape = {
        "codebook_size": load_codec(args.codec).codebook_sizes[0],
        "height": train.grids.shape[1],
        "max_width": train.grids.shape[2],
    }
    warm = None if args.init_from is None else WarmStart.from_directory(args.init_from, budget_keys=SOURCE_BUDGET)
    if warm is None:
        architecture = {"d_model": args.d_model, "num_layers": args.layers, "dim_feedforward": 4 * args.d_model}
        model = create_model("prior_transformer", **shape, **architecture, dropout=args.dropout)
    else:  # the source's architecture (--d-model and --layers do not apply); it must fit these grids
        misfit = {k: (warm.model_args.get(k), v) for k, v in shape.items() if warm.model_args.get(k) != v}
        if warm.name != "prior_transformer" or misfit:
            raise SystemExit(f"--init-from {args.init_from}: a {warm.name} with (its, needed) {misfit}")
        model = create_model("prior_transformer", **{**warm.model_args, "dropout": args.dropout})
        warm.load_into(model, name="prior_transformer")
    budget = TrainingBudget(
        max_steps=args.max_steps,
        max_minutes=args.minutes or None,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        precision=args.precision,
    )
    started = time.perf_counter()
    metrics = train_transformer_prior(
        model,
        train,
        valid.subset(slice(0, 256)),
        budget=budget,
        log_dir=args.logs,
        checkpoint_dir=args.checkpoints,
        val_every=args.val_every_steps,
        resume=args.resume,
        accelerator=args.accelerator,
    )
    seconds = time.perf_counter() - started
    print(f"transformer: {count_parameters(model)} parameters, {metrics} in {seconds:.0f} s", flush=True)
    metadata = {**provenance(args), "budget": asdict(budget), "train_seconds": seconds, "final": metrics}
    on_gpu = args.accelerator != "cpu" and torch.cuda.is_available()
    metadata["trained_on"] = torch.cuda.get_device_name() if on_gpu else "cpu"
    metadata["training_energy"] = training_energy(args.logs)
    if warm is not None:
        metadata["warm_start"] = warm.record([])
    if args.note:
        metadata["note"] = args.note
    save_model_dir(model, Path(args.out) / "prior_transformer", metadata=metadata, force=args.force)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="out/prior_data/nsynth", help="NSynth-format dataset (rendered if missing)")
    parser.add_argument("--soundfont", default="FluidR3_GM.sf2", help="soundfont of the rendered dataset")
    parser.add_argument("--per-program", type=int, default=24, help="notes rendered per GM program")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes")
    parser.add_argument("--codec", help="codec directory (default: the shipped codec)")
    parser.add_argument("--cache", default="out/prior_data/encoded", help="folder of cached encoded grids")
    parser.add_argument("--reencode", action="store_true", help="ignore the cache")
    parser.add_argument("--max-notes", type=int, help="encode at most this many notes per split, every pitch covered")
    parser.add_argument("--valid-every", type=int, default=1, help="validate on every N-th valid note only")
    parser.add_argument("--out", default=str(ASSETS), help="folder receiving prior_nb/ and prior_transformer/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nb-offsets", default="[[-1,0],[1,0],[0,-1],[0,1]]", help="Naive Bayes neighbours, JSON")
    parser.add_argument("--nb-vocab", type=int, help="distinct neighbour codes kept by Naive Bayes (default: all)")
    parser.add_argument("--nb-alpha", type=float, default=1.0, help="Naive Bayes additive smoothing")
    parser.add_argument("--skip-transformer", action="store_true")
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--max-steps", type=int, default=4000)
    parser.add_argument(
        "--minutes", type=float, default=12.0, help="wall-clock budget of transformer training (0: steps only)"
    )
    parser.add_argument("--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed")
    parser.add_argument("--val-every-steps", type=int, default=200, help="transformer validation interval")
    parser.add_argument("--checkpoints", help="folder of resumable transformer checkpoints (best weights kept)")
    parser.add_argument(
        "--init-from", metavar="DIR", help="start the transformer from this trained one's weights and architecture"
    )
    parser.add_argument("--resume", help="continue transformer training from this checkpoint (CHECKPOINTS/last.ckpt)")
    parser.add_argument("--skip-nb", action="store_true", help="do not refit Naive Bayes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--accelerator", default="cpu", help="Lightning accelerator of transformer training (gpu)")
    parser.add_argument("--logs", default="out/prior_data/logs", help="Lightning CSV logs")
    parser.add_argument("--force", action="store_true", help="replace existing prior directories")
    parser.add_argument("--note", help="a remark stored in the transformer's config (e.g. how its device was shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, valid = encoded_split(args, "train"), encoded_split(args, "valid", every=args.valid_every)
    encoded_split(args, "test")
    if not args.skip_nb:
        fit_naive_bayes(args, train, valid)
    if not args.skip_transformer:
        train_transformer(args, train, valid)


if __name__ == "__main__":
    main()

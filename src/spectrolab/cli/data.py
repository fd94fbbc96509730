"""``spectrolab data render`` (an NSynth-format dataset from a soundfont), ``merge``, ``roundtrip`` and ``info``."""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

from spectrolab.data.nsynth_format import (
    MANIFEST_FILE,
    NSYNTH_FAMILIES,
    NSYNTH_PITCHES,
    NSYNTH_VELOCITIES,
    SPLITS,
    read_examples,
    split_dir,
)
from spectrolab.data.ranges import parse_int_spec
from spectrolab.data.soundfont import DEFAULT_SOUNDFONT
from spectrolab.errors import DataError


def _span(values: tuple[int, ...]) -> str:
    return (
        f"{values[0]}:{values[-1]}" if values == tuple(range(values[0], values[-1] + 1)) else ",".join(map(str, values))
    )


def _render(args: argparse.Namespace) -> int:
    from spectrolab.data.nsynth_render import RenderConfig, render_nsynth

    config = RenderConfig(
        soundfont=args.soundfont,
        programs=parse_int_spec(args.programs, name="--programs", low=0, high=127),
        pitches=parse_int_spec(args.pitches, name="--pitches", low=0, high=127),
        velocities=parse_int_spec(args.velocities, name="--velocities", low=1, high=127),
        seed=args.seed,
        max_per_program=args.max_per_program,
    )
    report = render_nsynth(config, args.out, workers=args.workers, force=args.force, progress=not args.quiet)
    counts = ", ".join(f"{split} {report.notes[split]}" for split in SPLITS)
    print(f"wrote {report.total} notes ({counts}) to {report.out_dir} in {report.seconds:.1f} s")
    print(f"dropped {report.silent_dropped} silent notes; skipped {len(report.skipped_programs)} unmapped programs")
    return 0


def _clips_info(root: Path) -> int:
    from spectrolab.data.clips import LABELS_NAME, summarise_clips

    summary = summarise_clips(root)
    print(f"{'tag':12s}" + "".join(f"{s:>8s}" for s in summary))
    labels = next(iter(summary.values())).tags if summary else {}
    for label in labels:
        print(f"{label:12s}" + "".join(f"{part.tags[label]:8d}" for part in summary.values()))
    print(f"{'clips':12s}" + "".join(f"{part.clips:8d}" for part in summary.values()))
    print(f"{'minutes':12s}" + "".join(f"{part.seconds / 60:8.1f}" for part in summary.values()))
    recipe = json.loads((root / LABELS_NAME).read_text()).get("recipe", {})
    print(f"clip dataset rendered from {recipe.get('soundfont', '?')} with seed {recipe.get('seed', '?')}")
    return 0


def _info(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        raise DataError(f"{root}: no such dataset folder")
    if (root / "labels.json").is_file():
        return _clips_info(root)
    present = [s for s in SPLITS if split_dir(root, s).is_dir()]
    if not present:
        raise DataError(
            f"{root}: holds no nsynth-{{{','.join(SPLITS)}}} folder and no labels.json; not a dataset "
            "`spectrolab data render` or `data clips` wrote"
        )
    counts = {
        s: Counter(e["instrument_family_str"] for e in read_examples(split_dir(root, s)).values()) for s in present
    }
    print(f"{'family':12s}" + "".join(f"{s:>8s}" for s in present))
    for family in NSYNTH_FAMILIES:
        print(f"{family:12s}" + "".join(f"{counts[s][family]:8d}" for s in present))
    print(f"{'total':12s}" + "".join(f"{sum(counts[s].values()):8d}" for s in present))
    manifest_path = root / MANIFEST_FILE
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        config = manifest["config"]
        dropped = manifest["silent_dropped"]
        print(f"rendered from {manifest['soundfont_path']} with seed {config['seed']}; {dropped} silent notes dropped")
        for split in SPLITS:
            print(f"{split} programs: {','.join(map(str, manifest['splits'][split]))}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from spectrolab.data.merge import merge_nsynth

    names = args.names.split(",") if args.names else None
    counts = merge_nsynth(args.sources, args.out, names=names, force=args.force, valid_every=args.valid_every)
    print(f"wrote {sum(counts.values())} notes ({', '.join(f'{s} {n}' for s, n in counts.items())}) to {args.out}")
    return 0


def _roundtrip(args: argparse.Namespace) -> int:
    import torch

    from spectrolab.codec import load_codec
    from spectrolab.data.roundtrip import roundtrip_nsynth

    torch.set_num_threads(args.threads)
    report = roundtrip_nsynth(
        args.source, args.out, codec=load_codec(args.codec), every=args.every, force=args.force, progress=not args.quiet
    )
    counts = ", ".join(f"{split} {n}" for split, n in report.notes.items())
    print(f"wrote {sum(report.notes.values())} round trips ({counts}) to {report.out_dir} in {report.seconds:.1f} s")
    if report.over_full_scale:
        print(f"{report.over_full_scale} round trips exceed full scale: written as float WAV, not clipped")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="render and inspect datasets")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    render = sub.add_parser(
        "render",
        help="render an NSynth-format dataset from a General-MIDI soundfont",
        description="Selections take a value (40), a list (25,50,75), a range (21:108) or a mix (0:7,24).",
    )
    render.add_argument("--soundfont", default=DEFAULT_SOUNDFONT, help="a .sf2 path or a name in the system folders")
    render.add_argument("--out", required=True, help="output folder (gets nsynth-{train,valid,test}/)")
    render.add_argument("--programs", default="0:127", help="GM programs 0-127; unmapped ones are skipped")
    render.add_argument(
        "--pitches", default=_span(NSYNTH_PITCHES), help="MIDI pitches (default: NSynth's, %(default)s)"
    )
    render.add_argument(
        "--velocities", default=_span(NSYNTH_VELOCITIES), help="MIDI velocities (default: NSynth's, %(default)s)"
    )
    render.add_argument("--seed", type=int, default=0, help="seed of the split assignment and subsampling")
    render.add_argument("--max-per-program", type=int, help="keep this many notes per program (all pitches first)")
    render.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rendering processes")
    render.add_argument("--force", action="store_true", help="replace an existing output folder")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    render.set_defaults(run=_render)
    merge = sub.add_parser(
        "merge", help="one NSynth-format dataset from several (e.g. one per sample library), audio linked not copied"
    )
    merge.add_argument("sources", nargs="+", help="NSynth-format dataset folders")
    merge.add_argument("--out", required=True, help="output folder")
    merge.add_argument("--names", help="comma-separated names prefixing each source's notes (default: folder names)")
    merge.add_argument(
        "--valid-every", type=int, metavar="N",
        help="train on the valid split's programs too: every Nth note of train+valid becomes the valid split",
    )  # fmt: skip
    merge.add_argument("--force", action="store_true", help="replace an existing output folder")
    merge.set_defaults(run=_merge)
    roundtrip = sub.add_parser(
        "roundtrip", help="an NSynth-format dataset of codec round trips of another's notes (to train taggers on)"
    )
    roundtrip.add_argument("source", help="NSynth-format dataset folder")
    roundtrip.add_argument("--out", required=True, help="output folder")
    roundtrip.add_argument("--codec", help="codec directory (default: the shipped codec)")
    roundtrip.add_argument("--every", type=int, default=1, metavar="N", help="every Nth note of each split, by name")
    roundtrip.add_argument("--threads", type=int, default=1, help="torch threads")
    roundtrip.add_argument("--force", action="store_true", help="replace an existing output folder")
    roundtrip.add_argument("--quiet", action="store_true", help="no progress bar")
    roundtrip.set_defaults(run=_roundtrip)
    info = sub.add_parser(
        "info", help="notes per split and family of an NSynth-format dataset, or clips and tags of a clip dataset"
    )
    info.add_argument("dir", help="dataset folder (nsynth-train/ etc., or labels.json and train/ etc.)")
    info.set_defaults(run=_info)

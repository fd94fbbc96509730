"""Regenerate every results table and splice it into README.md.

Each script in ``SCRIPTS`` writes ``results/<name>.md``; the README quotes that file between the markers
``<!-- results:<name> -->`` and ``<!-- /results:<name> -->``. ``--only NAME`` reruns one; ``--splice-only``
just copies the existing tables into the README.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS: dict[str, list[str]] = {
    "representations": ["scripts/representation_results.py"],
    "tagging_models": ["scripts/tagging_model_table.py", "--force"],
    "tagging": ["scripts/tagging_results.py", "--task", "both"],
    "tagging_notes": ["scripts/tagging_notes_results.py"],
    "tagging_clips": ["scripts/tagging_clips_results.py"],
    "codec": ["scripts/codec_results.py", "--default", "models/candidates/codec_small"],
    "priors": ["scripts/prior_results.py", "--data", "data/notes3", "--library", "data/nsynth-sf_GMbank"],
    "prior_steering": [
        "scripts/prior_steering.py",
        "--data",
        "data/notes3",
        "--library",
        "data/nsynth-sf_GMbank",
        "--tagger",
        "src/spectrolab/assets/tagger_notes",
    ],
    "tagging_zoo": ["scripts/tagging_zoo.py"],
    "sampling_steps": ["scripts/sampling_steps.py", "--data", "data/notes3", "--seamless-notes", "60", "--runs", "20"],
    "energy": ["scripts/energy_results.py"],
    "edit_latency": ["benchmarks/bench_edit_latency.py"],
    "codec_shapes": ["benchmarks/bench_codec_shapes.py"],
    "perceptual_codec": [
        "scripts/perceptual_codec.py",
        "--data",
        "data/nsynth-FluidR3_GM",
        "--out",
        "runs/perceptual_codec",
        "--minutes",
        "0",
        "--steps",
        "9000",
        "--jobs",
        "2",
        "--results",
        "results/perceptual_codec.md",
        "--force",
    ],
    "codec_generalisation": [
        "scripts/codec_generalisation.py",
        "--seen",
        "data/nsynth-FluidR3_GM",
        "data/nsynth-TimGM6mb",
        "data/nsynth-OPL-3_FM_128M",
        "--unseen",
        "data/nsynth-sf_GMbank",
        "--codec",
        "src/spectrolab/assets/codec_default",
        "models/candidates/codec_wide",
        "models/candidates/codec_small",
        "--names",
        "shipped codec_default (the level-loss run)",
        "wide candidate (not shipped)",
        "previous default (models/candidates/codec_small)",
    ],
}


def splice(readme: str, name: str, table: str) -> str:
    """Replace the text between ``name``'s markers with ``table``; the markers must exist."""
    pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.DOTALL)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no markers for results '{name}'")
    return pattern.sub(lambda m: m.group(1) + table.strip() + "\n" + m.group(2), readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(SCRIPTS), action="append")
    parser.add_argument("--splice-only", action="store_true")
    args = parser.parse_args()
    names = args.only or list(SCRIPTS)
    if not args.splice_only:
        for name in names:
            print(f"== {name}: {' '.join(SCRIPTS[name])}", flush=True)
            subprocess.run([sys.executable, *SCRIPTS[name]], cwd=ROOT, check=True)
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text()
    for name in names:
        readme = splice(readme, name, (ROOT / "results" / f"{name}.md").read_text())
    readme_path.write_text(readme)
    print(f"README.md updated with {', '.join(names)}")


if __name__ == "__main__":
    main()

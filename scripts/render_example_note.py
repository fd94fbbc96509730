"""Render the bundled example note, src/spectrolab/assets/example_note.wav, that `spectrolab demo` edits.

A violin (General-MIDI program 40) at MIDI pitch 64, velocity 100, from the default FluidR3_GM soundfont:
4 s at 16 kHz (3 s held, 1 s release), peak-normalised to 0.9, 16-bit PCM.

    PYTHONPATH=src python scripts/render_example_note.py [--force]
"""

from __future__ import annotations

import argparse

from spectrolab.audio import io
from spectrolab.cli.demo import EXAMPLE_NOTE, EXAMPLE_SPEC
from spectrolab.data.soundfont import DEFAULT_SOUNDFONT, NoteRenderer, normalize_loudness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="replace the existing file")
    args = parser.parse_args()
    with NoteRenderer(DEFAULT_SOUNDFONT, sample_rate=16000) as renderer:
        wave = normalize_loudness(renderer.render(EXAMPLE_SPEC))
    print(io.save(EXAMPLE_NOTE, wave, sample_rate=16000, force=args.force, subtype="PCM_16"))


if __name__ == "__main__":
    main()

"""Datasets and data rendering: NSynth-format notes, soundfont rendering, tagging clips, chunking."""

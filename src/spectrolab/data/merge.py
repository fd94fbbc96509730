"""One NSynth-format dataset from several (one per sample library): ``spectrolab data merge``.

Each note keeps its example, under the name ``<library>-<note_str>`` (so notes of the same program and pitch
from different libraries stay apart), with a ``library`` key added; its audio is a symbolic link to the
source file, so merging costs no copy. ``merge.json`` records the sources.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from spectrolab.data.nsynth_format import EXAMPLES_FILE, SPLITS, read_examples, split_dir
from spectrolab.errors import ConfigError, DataError, OutputExistsError

MERGE_MANIFEST = "merge.json"


def merge_nsynth(
    sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *, names: Sequence[str] | None = None,
    force: bool = False,
) -> dict[str, int]:  # fmt: skip
    """Merge the NSynth-format datasets ``sources`` into ``out``; returns the notes per split.

    ``names`` (default: the source folders' names) prefix each source's notes and must be distinct. The
    output is built beside ``out`` and moved into place at the end; an existing ``out`` is refused unless
    ``force``.
    """
    roots = [Path(s).resolve() for s in sources]
    labels = list(names) if names is not None else [r.name for r in roots]
    if len(roots) < 2 or len(set(labels)) != len(labels) or len(labels) != len(roots):
        raise ConfigError(f"need two or more datasets with distinct names, got {labels}")
    target = Path(out)
    if target.exists() and not force:
        raise OutputExistsError(f"{target}: exists already; pass --force to replace it")
    tmp = target.with_name(f".{target.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    counts: dict[str, int] = {}
    for split in SPLITS:
        folders = [split_dir(r, split) for r in roots]
        if not all(f.is_dir() for f in folders):
            missing = [str(f) for f in folders if not f.is_dir()]
            raise DataError(f"no {split} split in {', '.join(missing)}")
        merged: dict[str, dict] = {}
        (tmp / f"nsynth-{split}" / "audio").mkdir(parents=True)
        for label, folder in zip(labels, folders, strict=True):
            for note_str, example in read_examples(folder).items():
                key = f"{label}-{note_str}"
                merged[key] = {**example, "note_str": key, "library": label}
                link = tmp / f"nsynth-{split}" / "audio" / f"{key}.wav"
                link.symlink_to(folder / "audio" / f"{note_str}.wav")
        (tmp / f"nsynth-{split}" / EXAMPLES_FILE).write_text(json.dumps(merged, sort_keys=True))
        counts[split] = len(merged)
    manifest = {"sources": dict(zip(labels, map(str, roots), strict=True)), "notes": counts}
    (tmp / MERGE_MANIFEST).write_text(json.dumps(manifest, indent=2))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return counts

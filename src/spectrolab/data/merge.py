"""One NSynth-format dataset from several (one per sample library): ``spectrolab data merge``.

Each note keeps its example, under the name ``<library>-<note_str>`` (so notes of the same program and pitch
from different libraries stay apart), with a ``library`` key added; its audio is a symbolic link to the
source file, so merging costs no copy. ``merge.json`` records the sources.

``valid_every=N`` trains on the valid split's programs too (for a model that is judged on another library
rather than on unseen programs): the merged train and valid splits are pooled and every Nth note of the
pool, in name order, becomes the new valid split. Validation then measures unseen notes of seen programs;
the test split, and its programs, stay out of training.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from spectrolab.data.nsynth_format import EXAMPLES_FILE, SPLITS, read_examples, split_dir
from spectrolab.data.staging import check_new_folder, staged_folder
from spectrolab.errors import ConfigError, DataError

MERGE_MANIFEST = "merge.json"


def merge_nsynth(
    sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *, names: Sequence[str] | None = None,
    force: bool = False, valid_every: int | None = None,
) -> dict[str, int]:  # fmt: skip
    """Merge the NSynth-format datasets ``sources`` into ``out``; returns the notes per split.

    ``names`` (default: the source folders' names) prefix each source's notes and must be distinct. The
    output is built beside ``out`` and moved into place at the end; an existing ``out`` is refused unless
    ``force``. ``valid_every``: see the module's docstring.
    """
    roots = [Path(s).resolve() for s in sources]
    labels = list(names) if names is not None else [r.name for r in roots]
    if len(roots) < 2 or len(set(labels)) != len(labels) or len(labels) != len(roots):
        raise ConfigError(f"need two or more datasets with distinct names, got {labels}")
    if valid_every is not None and valid_every < 2:
        raise ConfigError(f"valid_every must be 2 or more, got {valid_every}")
    check_new_folder(Path(out), force=force)
    notes: dict[str, dict[str, tuple[dict, Path]]] = {}
    for split in SPLITS:
        folders = [split_dir(r, split) for r in roots]
        if not all(f.is_dir() for f in folders):
            missing = [str(f) for f in folders if not f.is_dir()]
            raise DataError(f"no {split} split in {', '.join(missing)}")
        notes[split] = {}
        for label, folder in zip(labels, folders, strict=True):
            for note_str, example in read_examples(folder).items():
                key = f"{label}-{note_str}"
                audio = folder / "audio" / f"{note_str}.wav"
                notes[split][key] = ({**example, "note_str": key, "library": label}, audio)
    if valid_every is not None:
        pool = sorted({**notes["train"], **notes["valid"]}.items())
        notes["valid"] = dict(pool[::valid_every])
        notes["train"] = {k: v for k, v in pool if k not in notes["valid"]}
    counts: dict[str, int] = {}
    with staged_folder(out, force=force) as tmp:
        for split, split_notes in notes.items():
            (tmp / f"nsynth-{split}" / "audio").mkdir(parents=True)
            for key, (_, audio) in split_notes.items():
                (tmp / f"nsynth-{split}" / "audio" / f"{key}.wav").symlink_to(audio)
            examples = {key: example for key, (example, _) in split_notes.items()}
            (tmp / f"nsynth-{split}" / EXAMPLES_FILE).write_text(json.dumps(examples, sort_keys=True))
            counts[split] = len(examples)
        manifest = {
            "sources": dict(zip(labels, map(str, roots), strict=True)), "notes": counts, "valid_every": valid_every
        }  # fmt: skip
        (tmp / MERGE_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return counts

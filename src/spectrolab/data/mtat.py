"""MagnaTagATune (MTAT) in its distributed layout, with the top-50 tags and the common split.

Layout::

    DIR/annotations_final.csv   tab-separated: clip_id, 188 tag columns (0/1), mp3_path
    DIR/<hex>/<name>.mp3        mp3_path is relative to DIR (or to DIR/mp3/ when that folder exists)

The tag vocabulary is the 50 tags annotated on most clips (ties broken by column order). The split is the one
used throughout the tagging literature: by the first hexadecimal character of the mp3's folder, 0-b train,
c valid, d-f test. Clips without any of the 50 tags are kept by default (``drop_untagged`` removes them), and
empty (0-byte) mp3 files -- a few of the distributed ones are -- are skipped.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectrolab.errors import ConfigError, DataError

ANNOTATIONS_NAME = "annotations_final.csv"
TOP_TAGS = 50
SPLIT_FOLDERS: dict[str, str] = {"train": "0123456789ab", "valid": "c", "test": "def"}


@dataclass(frozen=True)
class MTATAnnotations:
    """The whole annotation table: clip ids, mp3 paths (relative), tag names (188) and the (N, 188) 0/1 matrix."""

    clip_ids: list[str]
    mp3_paths: list[str]
    tags: list[str]
    matrix: np.ndarray


def read_annotations(root: str | os.PathLike[str]) -> MTATAnnotations:
    """Parse ``DIR/annotations_final.csv`` (tab-separated, header ``clip_id ... mp3_path``)."""
    path = Path(root) / ANNOTATIONS_NAME
    if not path.is_file():
        raise DataError(f"{path}: missing; expected the MagnaTagATune annotations_final.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows or len(rows[0]) < 3 or rows[0][0] != "clip_id" or rows[0][-1] != "mp3_path":
        raise DataError(f"{path}: header must be tab-separated 'clip_id <tags...> mp3_path'")
    header, body = rows[0], [r for r in rows[1:] if r]
    try:
        matrix = np.array([[int(v.strip('"')) for v in r[1:-1]] for r in body], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: tag columns must hold 0 or 1 ({exc})") from exc
    if matrix.shape != (len(body), len(header) - 2):
        raise DataError(f"{path}: every row needs {len(header)} tab-separated fields")
    strip = [[v.strip('"') for v in (r[0], r[-1])] for r in body]
    return MTATAnnotations(
        clip_ids=[s[0] for s in strip],
        mp3_paths=[s[1] for s in strip],
        tags=[t.strip('"') for t in header[1:-1]],
        matrix=matrix,
    )


def top_tags(annotations: MTATAnnotations, count: int = TOP_TAGS) -> list[str]:
    """The ``count`` tags annotated on most clips, most frequent first (ties: earlier column first)."""
    if not 0 < count <= len(annotations.tags):
        raise ConfigError(f"cannot pick {count} tags out of {len(annotations.tags)}")
    totals = annotations.matrix.sum(axis=0)
    order = sorted(range(len(totals)), key=lambda i: (-int(totals[i]), i))
    return [annotations.tags[i] for i in order[:count]]


def split_of(mp3_path: str) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` from the first character of the mp3's folder (e.g. ``"c/x.mp3"``)."""
    first = mp3_path.strip("/")[:1].lower()
    for split, chars in SPLIT_FOLDERS.items():
        if first and first in chars:
            return split
    raise DataError(f"mp3 path '{mp3_path}' does not start with a hexadecimal folder name (0-9, a-f)")


@dataclass(frozen=True)
class MTATIndex:
    """One split: audio files, their multi-hot targets (N, 50) over ``labels``, and the clip ids."""

    files: list[Path]
    targets: np.ndarray
    labels: list[str]
    clip_ids: list[str]


def read_mtat_split(
    root: str | os.PathLike[str], split: str, *, num_tags: int = TOP_TAGS, drop_untagged: bool = False
) -> MTATIndex:
    """The clips of ``split`` with their top-``num_tags`` targets; missing mp3 files raise :class:`DataError`."""
    if split not in SPLIT_FOLDERS:
        raise ConfigError(f"unknown split '{split}'; use one of {', '.join(SPLIT_FOLDERS)}")
    root = Path(root)
    annotations = read_annotations(root)
    labels = top_tags(annotations, num_tags)
    columns = [annotations.tags.index(t) for t in labels]
    audio_root = root / "mp3" if (root / "mp3").is_dir() else root
    files, targets, ids = [], [], []
    for i, rel in enumerate(annotations.mp3_paths):
        row = annotations.matrix[i, columns]
        if split_of(rel) != split or (drop_untagged and not row.any()):
            continue
        path = audio_root / rel
        if not path.is_file():
            raise DataError(f"{path}: listed in {ANNOTATIONS_NAME} but missing")
        if path.stat().st_size == 0:
            continue
        files.append(path)
        targets.append(row)
        ids.append(annotations.clip_ids[i])
    matrix = np.array(targets, dtype=np.float32).reshape(len(targets), len(labels))
    return MTATIndex(files=files, targets=matrix, labels=labels, clip_ids=ids)

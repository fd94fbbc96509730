"""The training runs' logs: TensorBoard and CSV side by side in ``OUT/logs``, kept whole across resumes."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from spectrolab.audio.io import atomic_path


def run_loggers(out: Path) -> list[Logger]:
    """CSV (``OUT/logs/metrics.csv``) and TensorBoard (event files) loggers writing to ``OUT/logs``."""
    return [CSVLogger(out, name="logs", version=""), TensorBoardLogger(out, name="logs", version="")]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@contextmanager
def csv_history_kept(out: Path, trainer: L.Trainer, *, resuming: bool) -> Iterator[None]:
    """Around ``trainer.fit``: Lightning's CSV logger starts ``metrics.csv`` afresh when a run resumes, so put
    the rows logged before the resume back in front of the new ones (columns united, written atomically by
    the rank-0 process), also when the resumed run stops with an error or an interrupt."""
    path = out / "logs" / "metrics.csv"
    earlier = _rows(path) if resuming and path.is_file() else []
    try:
        yield
    finally:
        if earlier and trainer.is_global_zero:
            _prepend(path, earlier)


def _prepend(path: Path, earlier: list[dict[str, str]]) -> None:
    """Rewrite ``path`` as ``earlier`` followed by its own rows (if any), under the union of the columns; leave
    it alone if it still starts with ``earlier`` (the resumed run failed before logging, or appended)."""
    current = _rows(path) if path.is_file() else []
    if current[: len(earlier)] == earlier:
        return
    rows = earlier + current
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path, force=True) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

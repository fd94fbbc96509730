"""Uploaded audio on disk: a private folder, server-generated names, deletion by age.

A file is named by the SHA-256 of its bytes (``<hex>.audio``), so a client's file name never reaches a path,
identical uploads share one file, and every worker of a server can read what another stored. Writes go to a
temp file in the same folder and are renamed into place, so a reader never sees a partial file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

_SUFFIX = ".audio"
_SWEEP_EVERY_S = 60.0


def make_private_dir(prefix: str = "spectrolab-web-") -> Path:
    """A new folder only this user can enter (mode 0700), in the system temp folder."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def digest(data: bytes) -> str:
    """Hex SHA-256 of ``data``: the content hash naming uploads and keying caches."""
    return hashlib.sha256(data).hexdigest()


class UploadStore:
    """Content-addressed files in ``directory``; files older than ``max_age_s`` are swept on later writes."""

    def __init__(self, directory: Path, *, max_age_s: float = 3600.0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.max_age_s = float(max_age_s)
        self._last_sweep = 0.0
        self._lock = threading.Lock()

    def put(self, data: bytes) -> tuple[str, Path]:
        """Store ``data``; returns its hash and path (refreshing the age of an identical earlier upload)."""
        key = digest(data)
        path = self.directory / f"{key}{_SUFFIX}"
        if path.exists():
            os.utime(path)
        else:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        self.sweep()
        return key, path

    def sweep(self, *, now: float | None = None, force: bool = False) -> int:
        """Delete files older than ``max_age_s`` (at most once a minute unless ``force``); returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            if not force and now - self._last_sweep < _SWEEP_EVERY_S:
                return 0
            self._last_sweep = now
        removed = 0
        for path in self.directory.iterdir():
            try:
                if now - path.stat().st_mtime > self.max_age_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another worker swept it first
                continue
        return removed

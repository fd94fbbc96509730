"""Load and save audio as float32 mono tensors; resample with soxr; write atomically.

Every failure raises :class:`~spectrolab.errors.AudioError` naming the file and the problem.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from spectrolab.errors import AudioError, OutputExistsError

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds before any conversion."""

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def check_sample_rate(sample_rate: int, *, what: str = "sample_rate") -> int:
    """Return ``sample_rate`` as int if it is a plausible audio rate, else raise :class:`AudioError`."""
    if not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE or int(sample_rate) != sample_rate:
        raise AudioError(
            f"{what}={sample_rate} is not a usable sample rate (expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)"
        )
    return int(sample_rate)


def resample(wave: np.ndarray, *, orig_sample_rate: int, sample_rate: int) -> np.ndarray:
    """Resample ``wave`` (T,) or (T, C) with soxr's high-quality filter; identity when the rates match."""
    if orig_sample_rate == sample_rate:
        return wave
    return soxr.resample(wave, orig_sample_rate, sample_rate, quality="HQ").astype(np.float32, copy=False)


def _read(path: Path) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from exc
    return data, int(sr)


def load(path: str | os.PathLike[str], *, sample_rate: int | None = None, mono: bool = True) -> torch.Tensor:
    """Load an audio file as float32.

    Args:
        path: wav, flac, ogg or mp3 file.
        sample_rate: resample to this rate (soxr HQ); ``None`` keeps the file's rate.
        mono: average the channels.

    Returns:
        Tensor (1, T) if ``mono`` else (C, T), values as stored (no normalisation).
    """
    path = Path(path)
    data, file_sr = _read(path)
    check_sample_rate(file_sr, what=f"{path}: file sample rate")
    if data.shape[0] == 0:
        raise AudioError(f"{path}: holds no samples (empty audio)")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if mono:
        data = data.mean(axis=1, keepdims=True)
    if sample_rate is not None:
        data = resample(data, orig_sample_rate=file_sr, sample_rate=check_sample_rate(sample_rate))
        data = data.reshape(-1, 1) if data.ndim == 1 else data
    return torch.from_numpy(np.ascontiguousarray(data.T))


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """Header information of an audio file, raising :class:`AudioError` if it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    try:
        meta = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from exc
    return AudioInfo(sample_rate=int(meta.samplerate), channels=int(meta.channels), frames=int(meta.frames))


def check_writable(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Return ``path`` as a Path, refusing an existing file unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: exists already; pass --force (force=True) to overwrite")
    return path


def _umask_permissions(path: str) -> None:
    """mkstemp creates 0600 files; give the finished file the permissions a plain open() would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes, *, force: bool = False) -> Path:
    """Write ``payload`` to a temp file beside ``path`` and rename it into place."""
    path = check_writable(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        _umask_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(
    path: str | os.PathLike[str],
    wave: torch.Tensor | np.ndarray,
    *,
    sample_rate: int,
    force: bool = False,
    subtype: str | None = None,
) -> Path:
    """Save a waveform (T,), (1, T) or (C, T) atomically as wav, flac or ogg.

    Refuses non-finite samples and existing files (unless ``force``). Samples outside [-1, 1] are written
    as float WAV rather than clipped when ``subtype`` is not given.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: cannot write '{path.suffix}' files; use one of {', '.join(_FORMATS)}")
    check_sample_rate(sample_rate)
    data = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    data = np.atleast_2d(data.astype(np.float32, copy=False))
    if data.ndim != 2 or data.shape[1] == 0:
        raise AudioError(f"{path}: expected a waveform (C, T) with T > 0, got shape {tuple(data.shape)}")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    if subtype is None and fmt == "WAV":
        subtype = "FLOAT" if np.abs(data).max() > 1.0 else "PCM_16"
    check_writable(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        sf.write(tmp, data.T, sample_rate, format=fmt, subtype=subtype)
        _umask_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""Load and save audio as float32 tensors; resample with soxr; write atomically and reproducibly.

:func:`read_native` / :func:`write_native` keep a file's samples exactly as stored (integers for PCM), its
rate, channels, format and subtype, so an edit can leave every sample it does not touch bit for bit. Every
write is byte-identical for the same samples: libsndfile's PEAK chunk (which stamps the time into float
WAVs) is left out, and Ogg streams get a fixed serial number instead of a random one.

Every failure raises :class:`~spectrolab.errors.AudioError` naming the file and the problem.
"""

from __future__ import annotations

import io as _io
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr
import torch

from spectrolab.errors import AudioError, OutputExistsError

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
# Integer subtypes: the numpy dtype libsndfile reads them into exactly, and one step of the stored value in it.
_INTEGER_SUBTYPES = {
    "PCM_S8": (np.int16, 256),
    "PCM_U8": (np.int16, 256),
    "PCM_16": (np.int16, 1),
    "PCM_24": (np.int32, 256),
    "PCM_32": (np.int32, 1),
}
_FLOAT_SUBTYPES = {"FLOAT": np.float32, "DOUBLE": np.float64}
_SFC_SET_ADD_PEAK_CHUNK = 0x1050
_OGG_SERIAL = 0x5350_4C42  # "SPLB": the fixed serial number of every Ogg stream we write


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


@dataclass(frozen=True)
class NativeAudio:
    """A file's samples exactly as stored.

    Attributes:
        samples: (T, C), int16 or int32 (left-aligned, as libsndfile reads them) for PCM subtypes, float32 or
            float64 for float and lossy ones.
        sample_rate: the file's rate.
        format, subtype: libsndfile's names (``"WAV"``, ``"PCM_16"``, ...).
    """

    samples: np.ndarray
    sample_rate: int
    format: str
    subtype: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def scale(self) -> float:
        """Stored value of full scale (1.0): 2**15 or 2**31 for integers, 1 for floats."""
        return float(np.iinfo(self.samples.dtype).max + 1) if self.samples.dtype.kind == "i" else 1.0

    @property
    def step(self) -> int:
        """Smallest change of a stored integer sample (1 for floats)."""
        return _INTEGER_SUBTYPES[self.subtype][1] if self.subtype in _INTEGER_SUBTYPES else 1

    def to_float(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``[start, stop)`` as float64 (C, T'), full scale 1."""
        return self.samples[start:stop].T.astype(np.float64) / self.scale

    def mono(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``[start, stop)`` mixed to mono (the mean of the channels) as float64 (T',), full scale 1."""
        part = self.samples[start:stop]
        mix = part[:, 0].astype(np.float64)  # a sum in place: numpy's mean over C is slow, a product makes a copy
        for channel in range(1, self.channels):
            mix += part[:, channel]
        mix *= 1.0 / (self.channels * self.scale)
        return mix

    def quantize(self, wave: np.ndarray) -> np.ndarray:
        """Float (C, T') -> stored values (T', C) of this file's dtype, rounded to its step (no clipping: the
        caller keeps ``wave`` within full scale)."""
        if self.samples.dtype.kind != "i":
            return np.ascontiguousarray(wave.T.astype(self.samples.dtype))
        info = np.iinfo(self.samples.dtype)
        stored = np.round(wave.T * (self.scale / self.step)) * self.step
        return np.clip(stored, info.min, info.max - self.step + 1).astype(self.samples.dtype)


def output_subtype(native: NativeAudio, path: str | os.PathLike[str], subtype: str | None = None) -> str:
    """The subtype to write ``native``'s edit to ``path``: ``subtype`` if given, else the input's when the
    output format supports it, else the format's default. Raises :class:`AudioError` for an unsupported one."""
    fmt = _format_of(Path(path))
    if subtype is not None:
        if not sf.check_format(fmt, subtype.upper()):
            choices = ", ".join(sorted(sf.available_subtypes(fmt)))
            raise AudioError(f"{path}: {fmt} files cannot hold subtype '{subtype}'; use one of {choices}")
        return subtype.upper()
    return native.subtype if sf.check_format(fmt, native.subtype) else sf.default_subtype(fmt)


def read_native(path: str | os.PathLike[str], *, mapped: bool = False) -> NativeAudio:
    """Read a file's samples exactly as stored (see :class:`NativeAudio`), with the checks of :func:`load`.

    ``mapped`` maps a WAV file's 16- or 32-bit PCM or float samples (copy-on-write: changing them never
    changes the file) instead of reading them into new memory, so a caller that changes a part of a long file
    pays for that part only; other files are read as usual.
    """
    path = Path(path)
    meta = info(path)
    check_sample_rate(meta.sample_rate, what=f"{path}: file sample rate")
    header = sf.info(str(path))
    subtype = header.subtype
    dtype = _INTEGER_SUBTYPES.get(subtype, (_FLOAT_SUBTYPES.get(subtype, np.float32), 1))[0]
    samples = None
    if mapped:
        samples = _map_wav(
            path, fmt=header.format, subtype=subtype, dtype=dtype, frames=header.frames, channels=header.channels
        )
    try:
        if samples is None:
            samples, _ = sf.read(str(path), dtype=dtype, always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from exc
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: holds no samples (empty audio)")
    if samples.dtype.kind == "f" and not np.isfinite(samples).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return NativeAudio(samples, meta.sample_rate, header.format, subtype)


def _wav_data_chunk(path: Path) -> tuple[int, int] | None:
    """Byte offset and size of the ``data`` chunk of a RIFF WAVE file; ``None`` for any other file."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        while len(chunk := fh.read(8)) == 8:
            name, size = struct.unpack("<4sI", chunk)
            if name == b"data":
                return fh.tell(), size
            fh.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even size
    return None


def _map_wav(
    path: Path, *, fmt: str, subtype: str, dtype: np.dtype | type, frames: int, channels: int
) -> np.ndarray | None:
    """The samples (T, C) of a WAV file as ``dtype``, mapped copy-on-write, or ``None`` where the stored bytes
    are not those values (other formats, widened or unsigned PCM, a short data chunk, a big-endian machine)."""
    stored_as_read = subtype in _FLOAT_SUBTYPES or _INTEGER_SUBTYPES.get(subtype, (None, 0))[1] == 1
    if fmt != "WAV" or not stored_as_read or frames == 0 or sys.byteorder != "little":
        return None
    chunk = _wav_data_chunk(path)
    if chunk is None or chunk[1] < frames * channels * np.dtype(dtype).itemsize:
        return None
    return np.memmap(path, dtype=dtype, mode="c", offset=chunk[0], shape=(frames, channels))


def _ogg_crc(page: bytes) -> int:
    """The CRC-32 of an Ogg page (polynomial 0x04C11DB7, not reflected, no final xor)."""
    crc = 0
    for byte in page:
        crc = (crc << 8) ^ _OGG_CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
        crc &= 0xFFFFFFFF
    return crc


def _ogg_crc_table() -> list[int]:
    table = []
    for index in range(256):
        crc = index << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_OGG_CRC_TABLE = _ogg_crc_table()


def fix_ogg_serial(data: bytes) -> bytes:
    """An Ogg file's bytes with every page's stream serial number set to a fixed value and its CRC redone
    (libsndfile draws a random serial per file)."""
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out) and out[pos : pos + 4] == b"OggS":
        segments = out[pos + 26]
        size = 27 + segments + sum(out[pos + 27 : pos + 27 + segments])
        out[pos + 14 : pos + 18] = _OGG_SERIAL.to_bytes(4, "little")
        out[pos + 22 : pos + 26] = bytes(4)
        out[pos + 22 : pos + 26] = _ogg_crc(bytes(out[pos : pos + size])).to_bytes(4, "little")
        pos += size
    return bytes(out)


def _format_of(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: cannot write '{path.suffix}' files; use one of {', '.join(_FORMATS)}")
    return fmt


def _write_audio(target: BinaryIO, frames: np.ndarray, *, sample_rate: int, fmt: str, subtype: str) -> None:
    """Write (T, C) frames as a ``fmt`` file to an open binary file: no PEAK chunk (no timestamp), so the same
    data always gives the same bytes. Through a Python file object, libsndfile does not fsync on closing."""
    with sf.SoundFile(target, "w", sample_rate, frames.shape[1], subtype=subtype, format=fmt) as handle:
        if fmt == "WAV":
            sf._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        handle.write(frames)


def encode_audio(frames: np.ndarray, *, sample_rate: int, fmt: str, subtype: str) -> bytes:
    """(T, C) frames as the bytes of a ``fmt`` file, the same for the same data (see :func:`write_audio_file`)."""
    buffer = _io.BytesIO()
    _write_audio(buffer, frames, sample_rate=sample_rate, fmt=fmt, subtype=subtype)
    data = buffer.getvalue()
    return fix_ogg_serial(data) if fmt == "OGG" else data


def write_audio_file(
    path: str | os.PathLike[str], frames: np.ndarray, *, sample_rate: int, fmt: str, subtype: str, force: bool = False
) -> Path:
    """Write (T, C) frames atomically to ``path``, byte-identical for the same data: no PEAK chunk in WAVs, a
    fixed serial number in Ogg streams (:func:`fix_ogg_serial`)."""
    if fmt == "OGG":
        return atomic_write_bytes(
            path, encode_audio(frames, sample_rate=sample_rate, fmt=fmt, subtype=subtype), force=force
        )
    with atomic_path(path, force=force) as tmp, open(tmp, "wb") as target:
        _write_audio(target, frames, sample_rate=sample_rate, fmt=fmt, subtype=subtype)
    return Path(path)


def write_native(
    path: str | os.PathLike[str], audio: NativeAudio, *, subtype: str | None = None, force: bool = False
) -> Path:
    """Write ``audio``'s stored samples atomically to ``path`` (format from the extension) in ``subtype``
    (default: :func:`output_subtype`); integer samples reach an integer subtype of the same width unchanged."""
    path = Path(path)
    fmt = _format_of(path)
    chosen = output_subtype(audio, path, subtype)
    write_audio_file(path, audio.samples, sample_rate=audio.sample_rate, fmt=fmt, subtype=chosen, force=force)
    return path


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


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[str]:
    """Yield a temp file name beside ``path``; on success it is renamed onto ``path``, on failure removed.

    Refuses an existing ``path`` unless ``force``; the finished file gets the usual umask permissions.
    """
    path = check_writable(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        yield tmp
        _umask_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes, *, force: bool = False) -> Path:
    """Write ``payload`` to a temp file beside ``path`` and rename it into place."""
    with atomic_path(path, force=force) as tmp:
        Path(tmp).write_bytes(payload)
    return Path(path)


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
    fmt = _format_of(path)
    check_sample_rate(sample_rate)
    data = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    data = np.atleast_2d(data.astype(np.float32, copy=False))
    if data.ndim != 2 or data.shape[1] == 0:
        raise AudioError(f"{path}: expected a waveform (C, T) with T > 0, got shape {tuple(data.shape)}")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    if subtype is None and fmt == "WAV":
        subtype = "FLOAT" if np.abs(data).max() > 1.0 else "PCM_16"
    chosen = subtype or sf.default_subtype(fmt)
    write_audio_file(path, data.T, sample_rate=sample_rate, fmt=fmt, subtype=chosen, force=force)
    return path

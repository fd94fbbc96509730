"""Code grids: the integer codes a codec turns a sound into, and their small versioned file format.

A :class:`CodeGrid` is one level of codes (B, H, W): rows are frequency bands (low frequencies first), columns
are time cells. It also says where its cells lie: ``seconds_per_cell`` along time and ``row_edges_hz`` (H + 1
band edges in Hz) along frequency, so edits can map seconds and Hz to cells. :class:`CodeGrids` holds the
levels of one encoding (bottom, i.e. finest, first) plus the sample rate and length of the audio.

File format (little-endian, pickle-free)::

    magic   8 bytes  b"SLCODES\\0"
    version uint16   FORMAT_VERSION
    length  uint32   byte length of the JSON header
    header  JSON     {"sample_rate", "num_samples", "batch", "codec", "codec_sha256", "payload_bytes", "crc32",
                      "levels": [{"shape": [H, W], "codebook_size", "seconds_per_cell", "row_edges_hz"}]}
    payload uint16   the codes of every level in order, each (B, H, W) row-major

Version 2 added ``codec_sha256``, the SHA-256 of the weights of the codec that made the codes ("" if it was
not loaded from a model directory); version 1 files still load, their codec's weights unknown.
"""

from __future__ import annotations

import json
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectrolab.audio.io import atomic_write_bytes
from spectrolab.errors import ConfigError, DataError, ModelError, SpectrolabWarning

MAGIC = b"SLCODES\0"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<8sHI")
_MAX_CODEBOOK = 1 << 16
_MAX_HEADER = 1 << 20


@dataclass(frozen=True)
class CodeGrid:
    """One level of codes.

    Attributes:
        codes: int64 (B, H, W); H frequency rows (low first), W time cells.
        codebook_size: number of codes K; every code lies in [0, K).
        seconds_per_cell: duration of one time cell.
        row_edges_hz: H + 1 increasing band edges in Hz, row ``i`` spanning ``[edges[i], edges[i + 1])``.
    """

    codes: torch.Tensor
    codebook_size: int
    seconds_per_cell: float
    row_edges_hz: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.codes.dim() != 3:
            raise ConfigError(f"code grid must be (B, H, W), got shape {tuple(self.codes.shape)}")
        if self.codes.dtype != torch.int64:
            object.__setattr__(self, "codes", self.codes.long())
        if not 1 < self.codebook_size <= _MAX_CODEBOOK:
            raise ConfigError(f"codebook_size={self.codebook_size} must lie in 2..{_MAX_CODEBOOK}")
        if self.codes.numel() and (int(self.codes.min()) < 0 or int(self.codes.max()) >= self.codebook_size):
            low, high = int(self.codes.min()), int(self.codes.max())
            raise ConfigError(f"codes must lie in [0, {self.codebook_size}), got values in [{low}, {high}]")
        if len(self.row_edges_hz) != self.codes.shape[1] + 1:
            raise ConfigError(f"need {self.codes.shape[1] + 1} row edges for {self.codes.shape[1]} rows")
        object.__setattr__(self, "row_edges_hz", tuple(float(e) for e in self.row_edges_hz))

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W): frequency rows by time cells."""
        return int(self.codes.shape[1]), int(self.codes.shape[2])

    @property
    def bits_per_code(self) -> float:
        return math.log2(self.codebook_size)

    @property
    def bits(self) -> float:
        """Bits of one item's grid: H * W * log2(K)."""
        return self.shape[0] * self.shape[1] * self.bits_per_code

    def with_codes(self, codes: torch.Tensor) -> CodeGrid:
        """The same grid geometry holding other codes (B', H, W)."""
        if tuple(codes.shape[1:]) != self.shape:
            raise ConfigError(f"new codes {tuple(codes.shape)} do not match the grid shape {self.shape}")
        return replace(self, codes=codes)


@dataclass(frozen=True)
class CodeGrids:
    """Every level of one encoding, bottom (finest) level first.

    Attributes:
        levels: the :class:`CodeGrid` of each level; all share the batch size B.
        sample_rate: sample rate of the encoded audio.
        num_samples: length T of the encoded audio, which ``decode`` restores.
        codec: registered name of the codec that made the codes.
        codec_sha256: SHA-256 of that codec's weights file ("" if unknown); decoders and priors of another
            codec refuse the codes (see :func:`spectrolab.codec.api.check_same_codec`).
    """

    levels: tuple[CodeGrid, ...]
    sample_rate: int
    num_samples: int
    codec: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    codec_sha256: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise ConfigError("CodeGrids needs at least one level")
        batch = {int(level.codes.shape[0]) for level in self.levels}
        if len(batch) != 1:
            raise ConfigError(f"levels disagree on the batch size: {sorted(batch)}")
        if self.num_samples <= 0 or self.sample_rate <= 0:
            raise ConfigError(f"need positive sample_rate and num_samples, got {self.sample_rate}, {self.num_samples}")

    @property
    def made_by(self) -> str:
        """The codec that made the codes, for messages: ``'vqvae_default' (weights 3b1f6156...)``."""
        name = f"'{self.codec}'" if self.codec else "an unnamed codec"
        return f"{name} (weights {self.codec_sha256[:12]})" if self.codec_sha256 else name

    @property
    def grids(self) -> list[torch.Tensor]:
        """The int64 codes of each level, (B, H, W)."""
        return [level.codes for level in self.levels]

    @property
    def codebook_sizes(self) -> list[int]:
        return [level.codebook_size for level in self.levels]

    @property
    def batch_size(self) -> int:
        return int(self.levels[0].codes.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of audio encoded."""
        return self.num_samples / self.sample_rate

    @property
    def bits(self) -> float:
        """Bits per item over all levels."""
        return sum(level.bits for level in self.levels)

    @property
    def bitrate(self) -> float:
        """Bits per second of audio: sum over levels of H * W * log2(K), divided by the duration."""
        return self.bits / self.duration

    def check_codec(self, sha256: str, *, user: str, allow_mismatch: bool = False) -> None:
        """Refuse (:class:`ModelError`) these codes if they were made by a codec other than the one whose weights
        hash ``sha256``, named ``user`` in the message; warn instead with ``allow_mismatch``. An unknown hash
        on either side ("") passes."""
        if not sha256 or not self.codec_sha256 or sha256 == self.codec_sha256:
            return
        message = f"these codes were made by codec {self.made_by}, not by {user} (weights {sha256[:12]})"
        if allow_mismatch:
            warnings.warn(f"{message}; going ahead as asked", SpectrolabWarning, stacklevel=3)
            return
        raise ModelError(f"{message}; use the matching codec and prior, or pass --allow-codec-mismatch to go ahead")

    def with_level(self, index: int, codes: torch.Tensor) -> CodeGrids:
        """A copy whose level ``index`` holds ``codes`` (same grid shape)."""
        levels = list(self.levels)
        levels[index] = levels[index].with_codes(codes)
        return replace(self, levels=tuple(levels))

    def to_bytes(self) -> bytes:
        """Serialise to the versioned file format described in the module docstring."""
        payload = b"".join(level.codes.cpu().numpy().astype("<u2").tobytes() for level in self.levels)
        header = {
            "sample_rate": self.sample_rate,
            "num_samples": self.num_samples,
            "batch": self.batch_size,
            "codec": self.codec,
            "codec_sha256": self.codec_sha256,
            "extra": self.extra,
            "payload_bytes": len(payload),
            "crc32": zlib.crc32(payload),
            "levels": [
                {
                    "shape": list(level.shape),
                    "codebook_size": level.codebook_size,
                    "seconds_per_cell": level.seconds_per_cell,
                    "row_edges_hz": list(level.row_edges_hz),
                }
                for level in self.levels
            ],
        }
        text = json.dumps(header, sort_keys=True).encode()
        return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(text)) + text + payload

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "<bytes>") -> CodeGrids:
        """Parse :meth:`to_bytes` output; raises :class:`DataError` naming ``source`` on any inconsistency."""
        if len(data) < _PREFIX.size:
            raise DataError(f"{source}: too short to be a code-grid file ({len(data)} bytes)")
        magic, version, length = _PREFIX.unpack_from(data)
        if magic != MAGIC:
            raise DataError(f"{source}: not a spectrolab code-grid file (bad magic bytes)")
        if version > FORMAT_VERSION:
            raise DataError(f"{source}: code-grid format version {version} is newer than this spectrolab supports")
        if length > _MAX_HEADER or _PREFIX.size + length > len(data):
            raise DataError(f"{source}: truncated code-grid file (header of {length} bytes is cut off)")
        try:
            header = json.loads(data[_PREFIX.size : _PREFIX.size + length])
            return cls._from_header(header, data[_PREFIX.size + length :], source)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: corrupt code-grid header ({exc})") from exc

    @classmethod
    def _from_header(cls, header: dict[str, Any], payload: bytes, source: str) -> CodeGrids:
        if len(payload) != header["payload_bytes"]:
            raise DataError(f"{source}: truncated code-grid file ({len(payload)} of {header['payload_bytes']} bytes)")
        if zlib.crc32(payload) != header["crc32"]:
            raise DataError(f"{source}: corrupt code-grid payload (checksum mismatch)")
        batch, offset, levels = int(header["batch"]), 0, []
        for spec in header["levels"]:
            height, width = (int(n) for n in spec["shape"])
            count = batch * height * width
            if offset + 2 * count > len(payload):
                raise DataError(f"{source}: payload is smaller than the grid shapes in its header")
            codes = np.frombuffer(payload, dtype="<u2", count=count, offset=offset).astype(np.int64)
            offset += 2 * count
            grid = torch.from_numpy(codes.reshape(batch, height, width))
            try:
                levels.append(
                    CodeGrid(grid, int(spec["codebook_size"]), float(spec["seconds_per_cell"]), spec["row_edges_hz"])
                )
            except ConfigError as exc:
                raise DataError(f"{source}: invalid code grid ({exc})") from exc
        if offset != len(payload):
            raise DataError(f"{source}: payload is larger than the grid shapes in its header")
        return cls(
            levels=tuple(levels),
            sample_rate=int(header["sample_rate"]),
            num_samples=int(header["num_samples"]),
            codec=str(header["codec"]),
            extra=dict(header.get("extra", {})),
            codec_sha256=str(header.get("codec_sha256", "")),  # version 1 files: unknown
        )

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write atomically; refuses to overwrite unless ``force``."""
        return atomic_write_bytes(path, self.to_bytes(), force=force)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CodeGrids:
        """Read a code-grid file, raising :class:`DataError` if it is missing, truncated or corrupt."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such code-grid file")
        return cls.from_bytes(path.read_bytes(), source=str(path))

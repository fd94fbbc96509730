"""The editor's calls into the library: accept an upload, encode it, edit it. No edit logic lives here.

:func:`perform_edit` is the one function that edits audio; every route that edits goes through it. The rest
checks uploads against the limits, keeps encodings in a bounded LRU by content hash, serialises inference
per worker (a lock) and runs it off the event loop, so that a slow edit never holds up the page's files.
"""

from __future__ import annotations

import io as _bytes_io
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
import numpy as np
import soundfile as sf
import torch

from spectrolab.audio import io
from spectrolab.codec import Codec, CodeGrids, load_codec
from spectrolab.data.nsynth import NSYNTH_FAMILIES
from spectrolab.edit.blur import BlurOptions, BlurResult, blur
from spectrolab.edit.region import CellRegion, Region
from spectrolab.errors import AudioError, ConfigError
from spectrolab.priors.api import SHIPPED_PRIORS, load_prior
from spectrolab.priors.base import Conditioning, Prior
from spectrolab.web.cache import LRUCache
from spectrolab.web.settings import Limits, WebSettings
from spectrolab.web.uploads import UploadStore, digest

T = TypeVar("T")


class InputRejected(Exception):
    """A request the server refuses, with the HTTP status and a message in plain words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Models:
    """The bundled codec and priors, loaded once per worker."""

    codec: Codec
    priors: dict[str, Prior]

    @classmethod
    def load(cls) -> Models:
        return cls(codec=load_codec(), priors={name: load_prior(name) for name in SHIPPED_PRIORS})


@dataclass(frozen=True)
class Sound:
    """An accepted upload: its content hash, where it is stored, and what libsndfile says it holds."""

    key: str
    path: Path
    info: io.AudioInfo


@dataclass(frozen=True)
class GridView:
    """One level of a sound's codes, with the geometry the page needs to draw it over the spectrogram."""

    level: int
    rows: int
    cols: int
    seconds_per_cell: float
    row_edges_hz: tuple[float, ...]
    codebook_size: int
    codes: list[list[int]]


@dataclass(frozen=True)
class Analysis:
    """What the page shows of a sound before editing it."""

    sound: Sound
    grid: GridView


@dataclass(frozen=True)
class EditOutcome:
    """What :func:`perform_edit` returns: the edited audio (T, C) at ``sample_rate``, the library's record of
    the edit, and timings in ms."""

    audio: np.ndarray
    sample_rate: int
    blur: BlurResult
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class EditReply:
    """An edit as the page receives it: a float WAV of the new version, its hash, the edited grid, the cells
    whose code changed, the span edited, and the latency (and, once metering exists, the energy)."""

    wav: bytes
    key: str
    sample_rate: int
    channels: int
    grid: GridView
    changed: list[list[bool]]
    cells: CellRegion
    region: Region
    changed_cells: int
    latency_ms: dict[str, float]
    energy: dict[str, float | str] | None = None


def perform_edit(path: Path, *, models: Models, prior: str, cells: CellRegion, options: BlurOptions) -> EditOutcome:
    """Edit the audio file at ``path``: the web editor's only call into the edit API.

    Today this loads the file at the codec's rate (mono) and calls :func:`spectrolab.edit.blur`, so the audio
    returned is the codec's decoding of the whole sound. The compositing edit (issue #9) replaces this body
    (``spectrolab.edit.edit_file`` / ``edit_audio``: the input at its own rate and channels, changed only
    inside the region); nothing else in :mod:`spectrolab.web` needs to change.
    """
    started = time.perf_counter()
    wave = io.load(path, sample_rate=models.codec.sample_rate)
    loaded = time.perf_counter()
    result = blur(wave, codec=models.codec, prior=models.priors[prior], region=cells, options=options)
    done = time.perf_counter()
    audio = result.wave.detach().cpu().numpy().T.astype(np.float32, copy=False)
    timings = {"load": 1e3 * (loaded - started), "edit": 1e3 * (done - loaded)}
    return EditOutcome(audio=audio, sample_rate=result.sample_rate, blur=result, timings_ms=timings)


def grid_view(grids: CodeGrids, level: int) -> GridView:
    grid = grids.levels[level]
    rows, cols = grid.shape
    codes = grid.codes[0].tolist()
    return GridView(level, rows, cols, grid.seconds_per_cell, grid.row_edges_hz, grid.codebook_size, codes)


def conditioning(pitch: int | None, family: str | None) -> Conditioning | None:
    """The prior's target labels from a MIDI pitch and an NSynth family name (either may be absent)."""
    if pitch is None and family is None:
        return None
    if family is not None and family not in NSYNTH_FAMILIES:
        raise ConfigError(f"family '{family}' is not one of {', '.join(NSYNTH_FAMILIES)}")
    return Conditioning(
        pitch=None if pitch is None else torch.tensor([pitch]),
        family=None if family is None else torch.tensor([NSYNTH_FAMILIES.index(family)]),
    )


def _without_peak_chunk(wav: bytes) -> bytes:
    """The RIFF file without libsndfile's PEAK chunk, whose timestamp would make equal audio differ in bytes."""
    chunks, offset = [], 12
    while offset + 8 <= len(wav):
        size = struct.unpack_from("<I", wav, offset + 4)[0]
        end = offset + 8 + size + (size & 1)
        if wav[offset : offset + 4] != b"PEAK":
            chunks.append(wav[offset:end])
        offset = end
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """32-bit float WAV of ``audio`` (T, C): lossless for what the edit returns, and the same bytes for the
    same audio."""
    buffer = _bytes_io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="FLOAT")
    return _without_peak_chunk(buffer.getvalue())


@contextmanager
def refusals(path: Path) -> Iterator[None]:
    """Turn the library's errors about a request's audio or arguments into 422s, without the stored path."""
    try:
        yield
    except (AudioError, ConfigError) as exc:
        raise InputRejected(422, str(exc).replace(f"{path}: ", "").replace(str(path), "the audio")) from None


class EditorService:
    """One worker's editor: uploads, the encoding cache, the models and the inference lock."""

    def __init__(self, settings: WebSettings, models: Models) -> None:
        self.settings = settings
        self.limits: Limits = settings.limits
        self.models = models
        self.store = UploadStore(settings.upload_dir, max_age_s=settings.upload_max_age_s)
        self.encodings: LRUCache[CodeGrids] = LRUCache(settings.cache_entries)
        self.lock = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None

    async def _off_loop(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` in a worker thread, one at a time: waiting requests queue here, not in the thread pool
        that serves files."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # -- uploads -----------------------------------------------------------------------------------------------
    def accept_sync(self, data: bytes) -> Sound:
        """Store an upload under its hash and check it is audio libsndfile reads, within the limits."""
        limits = self.limits
        if not data:
            raise InputRejected(422, "the file is empty (0 bytes)")
        if len(data) > limits.max_upload_bytes:
            raise InputRejected(
                413, f"the file is {len(data) / 2**20:.1f} MB; the limit is {limits.max_upload_bytes / 2**20:g} MB"
            )
        key, path = self.store.put(data)
        try:
            info = io.info(path)
        except AudioError:
            raise InputRejected(
                415, "this is not audio that libsndfile can read (WAV, FLAC, OGG, MP3, AIFF, ...)"
            ) from None
        if info.frames == 0:
            raise InputRejected(422, "the audio holds no samples (zero length)")
        if info.duration > limits.max_duration_s:
            raise InputRejected(422, f"the sound lasts {info.duration:.1f} s; the limit is {limits.max_duration_s:g} s")
        if info.duration < limits.min_duration_s:
            raise InputRejected(
                422, f"the sound lasts {info.duration:.3f} s; it must last at least {limits.min_duration_s:g} s"
            )
        return Sound(key=key, path=path, info=info)

    async def accept(self, data: bytes) -> Sound:
        return await anyio.to_thread.run_sync(self.accept_sync, data)

    # -- encoding ----------------------------------------------------------------------------------------------
    def encoding_sync(self, sound: Sound) -> CodeGrids:
        """The codec's encoding of ``sound``, from the LRU when this worker has seen the same bytes."""
        cached = self.encodings.get(sound.key)
        if cached is not None:
            return cached
        codec = self.models.codec
        with refusals(sound.path), self.lock, torch.inference_mode():
            grids = codec.encode(io.load(sound.path, sample_rate=codec.sample_rate))
        self.encodings.put(sound.key, grids)
        return grids

    async def analyse(self, sound: Sound, *, level: int = 0) -> Analysis:
        grids = await self._off_loop(self.encoding_sync, sound)
        with refusals(sound.path):
            if not 0 <= level < len(grids.levels):
                raise ConfigError(f"level {level} does not exist; this codec has levels 0-{len(grids.levels) - 1}")
        return Analysis(sound=sound, grid=grid_view(grids, level))

    # -- editing -----------------------------------------------------------------------------------------------
    def edit_sync(
        self, sound: Sound, *, cells: CellRegion, prior: str, options: BlurOptions, queued: float | None = None
    ) -> EditReply:
        """The edit, serialised by the lock; ``queued`` is when the request arrived (``perf_counter``)."""
        queued = time.perf_counter() if queued is None else queued
        with self.lock:
            started = time.perf_counter()
            with refusals(sound.path):
                outcome = perform_edit(sound.path, models=self.models, prior=prior, cells=cells, options=options)
        wav = wav_bytes(outcome.audio, outcome.sample_rate)
        result = outcome.blur
        level = result.level
        changed = (result.original.grids[level] != result.edited.grids[level])[0]
        latency = {
            "queue": 1e3 * (started - queued),
            **outcome.timings_ms,
            "total": 1e3 * (time.perf_counter() - queued),
        }
        return EditReply(
            wav=wav,
            key=digest(wav),
            sample_rate=outcome.sample_rate,
            channels=int(outcome.audio.shape[1]),
            grid=grid_view(result.edited, level),
            changed=changed.tolist(),
            cells=result.cells,
            region=result.region,
            changed_cells=result.changed_cells,
            latency_ms=latency,
        )

    async def edit(
        self,
        sound: Sound,
        *,
        row_start: int,
        row_stop: int,
        col_start: int,
        col_stop: int,
        prior: str = "nb",
        temperature: float = 1.0,
        steps: int = 8,
        seed: int = 0,
        pitch: int | None = None,
        family: str | None = None,
        level: int = 0,
    ) -> EditReply:
        """Resample the rectangle of cells of ``sound`` with ``prior``; see :func:`perform_edit`."""
        queued = time.perf_counter()
        if prior not in self.models.priors:
            raise InputRejected(422, f"prior '{prior}' is not one of {', '.join(self.models.priors)}")
        with refusals(sound.path):
            cells = CellRegion(row_start, row_stop, col_start, col_stop)
            options = BlurOptions(
                level=level, temperature=temperature, steps=steps, seed=seed, conditioning=conditioning(pitch, family)
            )
        return await self._off_loop(
            lambda: self.edit_sync(sound, cells=cells, prior=prior, options=options, queued=queued),
        )

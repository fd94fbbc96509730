"""The editor's calls into the library: accept an upload, encode it, edit it. No edit logic lives here.

:func:`perform_edit` is the one function that edits audio; every route that edits goes through it. The rest
checks uploads against the limits, keeps encodings in a bounded LRU by content hash, serialises inference
per worker (a lock) and runs it off the event loop, so that a slow edit never holds up the page's files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
import numpy as np
import torch

from spectrolab.audio import io
from spectrolab.codec import Codec, CodeGrids, load_codec
from spectrolab.edit.blur import BlurOptions
from spectrolab.edit.editor import EditResult, Stopwatch, edit_audio
from spectrolab.edit.region import CellRegion, Region
from spectrolab.energy import EnergyResult, EstimateMeter
from spectrolab.errors import AudioError, ConfigError
from spectrolab.priors.api import SHIPPED_PRIORS, load_prior
from spectrolab.priors.base import Conditioning, Prior
from spectrolab.sampling import DEFAULT_GUIDANCE, DEFAULT_STEPS
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
    """What :func:`perform_edit` returns: the edited audio (T, C) at ``sample_rate`` (the input's own rate and
    channels), the library's record of the edit, its energy and timings in ms."""

    audio: np.ndarray
    sample_rate: int
    edit: EditResult
    energy: EnergyResult
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


def perform_edit(
    path: Path, *, models: Models, prior: str, cells: CellRegion, options: BlurOptions, match_level: bool = True
) -> EditOutcome:
    """Edit the audio file at ``path``: the web editor's only call into the edit API, the same compositing edit
    as ``spectrolab blur`` (:func:`spectrolab.edit.edit_audio`): the input at its own rate and channels,
    changed only inside the region. Its energy is estimated from the process's CPU time over the call."""
    watch = Stopwatch()
    with watch("load"):
        audio = io.read_native(path)
    with EstimateMeter() as meter, watch("edit"):
        result = edit_audio(
            audio, codec=models.codec, prior=models.priors[prior], region=cells, options=options,
            match_level=match_level, stopwatch=watch,
        )  # fmt: skip
    assert meter.result is not None
    samples = result.audio.to_float().T.astype(np.float32)
    timings = {stage: 1e3 * seconds for stage, seconds in watch.seconds.items()}  # "edit": all but "load"
    return EditOutcome(samples, result.audio.sample_rate, result, meter.result, timings)


def grid_view(grids: CodeGrids, level: int) -> GridView:
    grid = grids.levels[level]
    rows, cols = grid.shape
    codes = grid.codes[0].tolist()
    return GridView(level, rows, cols, grid.seconds_per_cell, grid.row_edges_hz, grid.codebook_size, codes)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """32-bit float WAV of ``audio`` (T, C): lossless for what the edit returns, and the same bytes for the
    same audio."""
    return io.encode_audio(audio, sample_rate=sample_rate, fmt="WAV", subtype="FLOAT")


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
        self,
        sound: Sound,
        *,
        cells: CellRegion,
        prior: str,
        options: BlurOptions,
        match_level: bool = True,
        queued: float | None = None,
    ) -> EditReply:
        """The edit, serialised by the lock; ``queued`` is when the request arrived (``perf_counter``)."""
        queued = time.perf_counter() if queued is None else queued
        with self.lock:
            started = time.perf_counter()
            with refusals(sound.path):
                outcome = perform_edit(
                    sound.path, models=self.models, prior=prior, cells=cells, options=options, match_level=match_level
                )
        wav = wav_bytes(outcome.audio, outcome.sample_rate)
        result = outcome.edit
        level = result.level
        whole = self.encoding_sync(sound)
        edited = result.whole_codes(whole)
        changed = (whole.grids[level] != edited.grids[level])[0]
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
            grid=grid_view(edited, level),
            changed=changed.tolist(),
            cells=result.cells,
            region=result.region,
            changed_cells=result.changed_cells,
            latency_ms=latency,
            energy={"joules": outcome.energy.joules, "method": outcome.energy.method},
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
        temperature: float | None = None,
        steps: int = DEFAULT_STEPS,
        seed: int = 0,
        pitch: int | None = None,
        family: str | None = None,
        guidance: float = DEFAULT_GUIDANCE,
        level: int = 0,
        match_level: bool = True,
    ) -> EditReply:
        """Resample the rectangle of cells of ``sound`` with ``prior``; see :func:`perform_edit`."""
        queued = time.perf_counter()
        if prior not in self.models.priors:
            raise InputRejected(422, f"prior '{prior}' is not one of {', '.join(self.models.priors)}")
        with refusals(sound.path):
            cells = CellRegion(row_start, row_stop, col_start, col_stop)
            options = BlurOptions(
                level=level,
                temperature=temperature,
                steps=steps,
                seed=seed,
                conditioning=Conditioning.from_names(pitch, family),
                guidance=guidance,
            )
        return await self._off_loop(
            lambda: self.edit_sync(
                sound, cells=cells, prior=prior, options=options, match_level=match_level, queued=queued
            ),
        )

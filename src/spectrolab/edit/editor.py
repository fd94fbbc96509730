"""Edit a sound: resample a region of its code grid, decode it, and paste it into the original (or resynthesise).

:func:`edit_audio` is the editor's one operation; the CLI (``spectrolab blur``) and the web editor call it.

- The code grid is the one the codec gives the whole sound at its own rate (16 kHz, mono), so the region's
  cells are those of :func:`~spectrolab.edit.blur.blur`.
- Work follows the region, not the file: the codec is convolutional, so only the columns whose codes reach the
  region's decoded frames, or the prior's view of the region, are analysed and encoded, and only the columns
  around the region are decoded (:func:`edit_windows`). Resampling is done on those spans only, aligned with the
  whole file's sample grid.
- The decoded edit, brought to the original's rate, replaces the region in every channel under a soft mask
  (:mod:`spectrolab.edit.composite`); every sample outside the recomputed span is the original's, bit for bit.
- ``resynthesize=True`` instead sends the whole sound through the codec (the output is then all codec audio,
  at the original's rate, the same on every channel).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import soxr
import torch

from spectrolab.audio import io
from spectrolab.codec import Codec, CodeGrids
from spectrolab.edit.blur import DEFAULT_OPTIONS, BlurOptions, check_prior, resample_cells
from spectrolab.edit.composite import Feather, MaskSupport, composite, composite_span, mask_support
from spectrolab.edit.region import CellRegion, Region, cells_to_region, region_to_cells
from spectrolab.errors import ConfigError
from spectrolab.priors.base import Prior

DEFAULT_FEATHER = Feather()
# Resampling reads this much more audio either side of a span (soxr's HQ filter is far shorter).
_RESAMPLE_PAD_S = 0.02


@dataclass
class Stopwatch:
    """Seconds spent per named stage, summed over repeated entries."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


@dataclass(frozen=True)
class EditWindows:
    """Columns ``[start, stop)`` of the edited level that are encoded and that are decoded."""

    encode: tuple[int, int]
    decode: tuple[int, int]


@dataclass(frozen=True)
class EditResult:
    """An edit and its outcome.

    Attributes:
        audio: the result, stored as the input was (rate, channels, sample type).
        original, edited: codes of the encoded window, before and after (``windows.encode`` columns).
        level: the edited level.
        cells: the resampled cells, as columns and rows of the whole sound's grid.
        region: the exact seconds and Hz those cells span.
        support: where the mask is non-zero (the region and its feathered edges); ``None`` if resynthesised.
        samples: ``[start, stop)`` input frames that were recomputed; all others are the input's.
        windows: the columns encoded and decoded.
        edit_gain: gain given to the pasted edit to stay within full scale (1.0: none needed).
        level_gain: gain that gave the edit the original's level inside the region (1.0: not matched).
        clamped: samples set to full scale because the input itself already exceeded it there.
        resynthesized: the whole sound went through the codec.
        seconds: time per stage (load, resample, analysis, encode, sample, decode, inverse, composite, save).
    """

    audio: io.NativeAudio
    original: CodeGrids
    edited: CodeGrids
    level: int
    cells: CellRegion
    region: Region
    support: MaskSupport | None
    samples: tuple[int, int]
    windows: EditWindows
    edit_gain: float
    level_gain: float
    clamped: int
    resynthesized: bool
    seconds: dict[str, float]

    @property
    def changed_cells(self) -> int:
        """How many cells of the region hold a different code after the edit."""
        return int((self.original.grids[self.level] != self.edited.grids[self.level]).sum())

    def whole_codes(self, whole: CodeGrids) -> CodeGrids:
        """The whole sound's codes (``whole``, as :meth:`Codec.encode` gives them) with the resampled cells set
        to the edit's codes: the grid after the edit, where only the region differs."""
        c, shift = self.cells, self.windows.encode[0]
        codes = whole.grids[self.level].clone()
        window = self.edited.grids[self.level]
        codes[:, c.row_start : c.row_stop, c.col_start : c.col_stop] = window[
            :, c.row_start : c.row_stop, c.col_start - shift : c.col_stop - shift
        ]
        return whole.with_level(self.level, codes)

    def describe(self) -> str:
        """One line: which cells changed and which exact seconds and Hz."""
        c, r = self.cells, self.region
        line = (
            f"resampled cells rows {c.row_start}-{c.row_stop - 1} x columns {c.col_start}-{c.col_stop - 1} "
            f"({c.num_cells} cells, {self.changed_cells} changed) = {r.start_s:.3f}-{r.stop_s:.3f} s, "
            f"{r.low_hz:.0f}-{r.high_hz:.0f} Hz"
        )
        if self.resynthesized:
            return line + "; the whole sound was resynthesised by the codec"
        s = self.support
        assert s is not None
        rate = self.audio.sample_rate
        return (
            line + f"; pasted with soft edges over {max(s.start_s, 0):.3f}-{min(s.stop_s, self.audio.duration):.3f}"
            f" s, {s.low_hz:.0f}-{s.high_hz:.0f} Hz; samples outside "
            f"{self.samples[0] / rate:.3f}-{self.samples[1] / rate:.3f} s are the input's"
        )

    def gain_note(self) -> str | None:
        """A line saying what was done to stay within full scale, or ``None`` if nothing was needed."""
        notes = []
        if self.level_gain == 0.0:
            notes.append("the original is silent inside the region, so the edit was silenced there too")
        elif abs(self.level_gain - 1.0) > 0.01:
            notes.append(f"the edit was given the original's level inside the region ({_db(self.level_gain):+.1f} dB)")
        if self.edit_gain < 1.0:
            notes.append(
                f"the edit would have exceeded full scale: its level inside the region was lowered by "
                f"{-_db(self.edit_gain):.1f} dB"
            )
        if self.clamped:
            notes.append(
                f"{self.clamped} samples of the input inside the region already exceeded full scale and were clipped"
            )
        return "; ".join(notes) or None


def _db(gain: float) -> float:
    return 20 * math.log10(max(gain, 1e-12))


def edit_windows(cells: CellRegion, *, width: int, codec: Codec, prior: Prior, feather: Feather) -> EditWindows:
    """Columns to encode and decode so that the region's decoded frames and the prior's view of it are what
    the whole sound's codes give: decoded frames depend on codes up to the decoder's reach away, the prior on
    the codes of ``prior.context_window``, and each code on audio up to the encoder's reach away."""
    reach = codec.receptive_field_frames()
    if reach is None:
        return EditWindows((0, width), (0, width))
    frames_per_cell = codec.level_strides()[0][1]
    encoder, decoder = (-(-frames // frames_per_cell) for frames in reach)
    edge = math.ceil(feather.seconds / codec.seconds_per_cell(0))
    decode = (max(0, cells.col_start - edge - decoder), min(width, cells.col_stop + edge + decoder))
    seen = prior.context_window(cells.col_start, cells.col_stop, width=width)
    encode = (max(0, min(seen[0], decode[0]) - encoder), min(width, max(seen[1], decode[1]) + encoder))
    return EditWindows(encode, decode)


def resample_span(
    read: Callable[[int, int], np.ndarray], *, orig_sample_rate: int, sample_rate: int, start: int, stop: int
) -> np.ndarray:
    """Samples ``[start, stop)`` at ``sample_rate`` of a signal that ``read(a, b)`` gives (as (b - a,) float,
    zeros outside it) at ``orig_sample_rate``, resampled on a span a little wider than needed and aligned with
    the whole signal's sample grid (the span starts where both rates have a sample)."""
    if orig_sample_rate == sample_rate:
        return read(start, stop)
    first, last = resample_source(start, stop, orig_sample_rate=orig_sample_rate, sample_rate=sample_rate)
    out = soxr.resample(read(first, last), orig_sample_rate, sample_rate, quality="HQ")
    offset = start - first * sample_rate // orig_sample_rate  # first is a whole number of gcd blocks: exact
    return np.asarray(out[offset : offset + stop - start], dtype=np.float64)


def resample_source(start: int, stop: int, *, orig_sample_rate: int, sample_rate: int) -> tuple[int, int]:
    """The samples ``[first, last)`` at ``orig_sample_rate`` that :func:`resample_span` reads to give samples
    ``[start, stop)`` at ``sample_rate``: a little wider, starting where both rates have a sample."""
    if orig_sample_rate == sample_rate:
        return start, stop
    common = math.gcd(orig_sample_rate, sample_rate)
    block_in, block_out = orig_sample_rate // common, sample_rate // common
    pad = math.ceil(_RESAMPLE_PAD_S * sample_rate)
    return math.floor((start - pad) / block_out) * block_in, math.ceil((stop + pad) / block_out) * block_in


def _reader(
    signal: Callable[[int, int], np.ndarray], length: int, *, first: int = 0
) -> Callable[[int, int], np.ndarray]:
    """``signal(a, b)`` for ``first <= a <= b <= length`` extended with zeros outside ``[first, length)``."""

    def read(start: int, stop: int) -> np.ndarray:
        low, high = max(start, first), min(stop, length)
        if (low, high) == (start, stop):
            return signal(start, stop)
        out = np.zeros(stop - start, dtype=np.float64)
        if high > low:
            out[low - start : high - start] = signal(low, high)
        return out

    return read


def _cells_of(
    region: Region | CellRegion, *, height: int, width: int, codec: Codec, level: int, duration: float
) -> CellRegion:
    if isinstance(region, CellRegion):
        return region.check_fits(height, width)
    return region_to_cells(
        region,
        seconds_per_cell=codec.seconds_per_cell(level),
        row_edges_hz=codec.row_edges_hz(height),
        width=width,
        duration=duration,
    )


def edit_audio(
    audio: io.NativeAudio,
    *,
    codec: Codec,
    prior: Prior,
    region: Region | CellRegion,
    options: BlurOptions = DEFAULT_OPTIONS,
    resynthesize: bool = False,
    feather: Feather = DEFAULT_FEATHER,
    match_level: bool = True,
    in_place: bool = False,
    stopwatch: Stopwatch | None = None,
) -> EditResult:
    """Resample ``region`` of ``audio``'s code grid with ``prior`` and paste the decoded result into ``audio``.

    Args:
        audio: the sound as stored (:func:`~spectrolab.audio.io.read_native`).
        region: seconds and Hz, or cells of level ``options.level``, of the whole sound's grid.
        options: level, temperature, steps, seed and target labels of the resampling.
        resynthesize: return the codec's decoding of the whole edited sound instead of the composite.
        feather: the mask's soft edges.
        match_level: give the pasted edit the original's level inside the region as requested (before it is
            rounded out to whole cells; one broadband gain, :func:`~spectrolab.edit.composite.matched_level_gain`),
            so the region keeps its loudness.
        in_place: write the composite into ``audio.samples`` itself instead of a copy (for a caller that owns
            ``audio`` and needs only the result, as :func:`edit_file` does: a long file is not copied whole).
        stopwatch: collects the time per stage (a new one if not given; the result holds its figures).

    Returns:
        :class:`EditResult`; outside ``result.samples``, ``result.audio.samples`` equals ``audio.samples``.
    """
    watch = stopwatch or Stopwatch()
    level, rate, codec_rate = options.level, audio.sample_rate, codec.sample_rate
    if not 0 <= level < codec.num_levels:
        raise ConfigError(f"level {level} does not exist; this codec has levels 0-{codec.num_levels - 1}")
    if codec.num_levels > 1 and level != 0:
        raise ConfigError("local edits are made on level 0; pass level=0 (the codec's finest grid)")
    num_samples = round(audio.frames * codec_rate / rate)
    if num_samples < codec.min_samples:
        raise ConfigError(
            f"{audio.duration:.3f} s of audio is shorter than one time cell of this codec "
            f"({codec.min_samples / codec_rate:g} s); nothing to edit"
        )
    height, width = codec.grid_shapes(num_samples)[level]
    cells = _cells_of(region, height=height, width=width, codec=codec, level=level, duration=audio.duration)
    windows = (
        EditWindows((0, width), (0, width))
        if resynthesize
        else edit_windows(cells, width=width, codec=codec, prior=prior, feather=feather)
    )
    hop = codec.representation.config.hop_length
    cell = codec.level_strides()[level][1] * hop
    mono = _reader(audio.mono, audio.frames)
    with torch.inference_mode():
        encode_start, encode_stop = _column_span(windows.encode, cell=cell, hop=hop, width=width, length=num_samples)
        with watch("resample"):
            wave = resample_span(
                mono, orig_sample_rate=rate, sample_rate=codec_rate, start=encode_start, stop=encode_stop
            )
        with watch("analysis"):
            spec = codec.analyse(torch.from_numpy(wave).float()[None])
        with watch("encode"):
            codes = codec.codes(spec)
        original = codec.code_grids(codes, num_samples=encode_stop - encode_start)
        check_prior(prior, original, level, allow_codec_mismatch=options.allow_codec_mismatch)
        local = replace(
            cells, col_start=cells.col_start - windows.encode[0], col_stop=cells.col_stop - windows.encode[0]
        )
        with watch("sample"):
            edited_codes = resample_cells(original.grids[level], local, prior=prior, options=options)
        edited = original.with_level(level, edited_codes)
        decode_start, decode_stop = _column_span(windows.decode, cell=cell, hop=hop, width=width, length=num_samples)
        first = windows.decode[0] - windows.encode[0]
        last = first + (windows.decode[1] - windows.decode[0])
        window_codes = codec.code_grids(
            [g[..., first:last] for g in edited.grids], num_samples=decode_stop - decode_start
        )
        span = cells_to_region(
            cells, seconds_per_cell=codec.seconds_per_cell(level), row_edges_hz=codec.row_edges_hz(height)
        )
        support = (
            None
            if resynthesize
            else mask_support(span, feather=feather, band_limit_hz=codec_rate / 2, nyquist=rate / 2)
        )
        start, stop = (
            (0, audio.frames) if support is None else composite_span(support, sample_rate=rate, length=audio.frames)
        )
        needed = resample_source(start, stop, orig_sample_rate=codec_rate, sample_rate=rate)
        window_frames = codec.representation.num_frames(window_codes.num_samples)
        f0, f1 = inverse_frames(needed, start=decode_start, frames=window_frames, codec=codec)
        with watch("decode"):
            decoded_spec = codec.decode_spec(window_codes, magnitude_only=not codec.needs_if, frames=(f0, f1))
        with watch("inverse"):
            length = min((f1 - 1 - f0) * hop, window_codes.num_samples - f0 * hop)
            decoded = codec.invert(decoded_spec, num_samples=length)[0].double().numpy()
    offset = decode_start + f0 * hop
    edit_signal = _reader(lambda a, b: decoded[a - offset : b - offset], offset + len(decoded), first=offset)
    outcome = partial(
        EditResult, original=original, edited=edited, level=level, cells=cells, region=span, windows=windows
    )
    if resynthesize:
        with watch("resample"):
            full = resample_span(edit_signal, orig_sample_rate=codec_rate, sample_rate=rate, start=0, stop=audio.frames)
        with watch("composite"):
            peak = float(np.abs(full).max())
            gain = min(1.0, 1.0 / peak) if peak > 0 else 1.0
            samples = audio.quantize(np.repeat(gain * full[None], audio.channels, axis=0))
        return outcome(
            audio=replace(audio, samples=samples), support=None, samples=(0, audio.frames), edit_gain=gain,
            level_gain=1.0, clamped=0, resynthesized=True, seconds=watch.seconds,
        )  # fmt: skip
    with watch("resample"):
        pasted = resample_span(edit_signal, orig_sample_rate=codec_rate, sample_rate=rate, start=start, stop=stop)
    with watch("composite"):
        mixed = composite(
            audio.to_float(start, stop), pasted, start=start, sample_rate=rate, region=span,
            band_limit_hz=codec_rate / 2, feather=feather, match_level=match_level,
            level_region=region if isinstance(region, Region) else span,
        )  # fmt: skip
        samples = audio.samples if in_place else audio.samples.copy()
        samples[start:stop] = audio.quantize(mixed.wave)
    return outcome(
        audio=replace(audio, samples=samples), support=support, samples=(start, stop), edit_gain=mixed.edit_gain,
        level_gain=mixed.level_gain, clamped=mixed.clamped, resynthesized=False, seconds=watch.seconds,
    )  # fmt: skip


def inverse_frames(needed: tuple[int, int], *, start: int, frames: int, codec: Codec) -> tuple[int, int]:
    """Frames ``[f0, f1)`` of a decoded window starting at sample ``start`` whose inverse STFT gives the samples
    ``needed`` as the whole window's would: every frame reaching them, and one more either side. (The phase is
    derived from these frames alone, so it may differ from the whole window's by a constant per bin.)"""
    config = codec.representation.config
    hop, reach = config.hop_length, config.n_fft // 2 + config.hop_length
    f0 = max(0, math.floor((needed[0] - start - reach) / hop))
    f1 = min(frames, math.ceil((needed[1] - start + reach) / hop) + 1)
    return f0, max(f1, min(f0 + 2, frames))


def _column_span(columns: tuple[int, int], *, cell: int, hop: int, width: int, length: int) -> tuple[int, int]:
    """Samples (at the codec's rate) whose analysis gives exactly the grid ``columns`` [start, stop): whole cells
    less one hop (so that the frames fill the cells), or up to the sound's ``length`` for its last column."""
    stop = length if columns[1] == width else min(columns[1] * cell - hop, length)
    return columns[0] * cell, stop


def edit_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    codec: Codec,
    prior: Prior,
    region: Region | CellRegion,
    options: BlurOptions = DEFAULT_OPTIONS,
    resynthesize: bool = False,
    feather: Feather = DEFAULT_FEATHER,
    match_level: bool = True,
    subtype: str | None = None,
    force: bool = False,
) -> EditResult:
    """Read ``in_path``, :func:`edit_audio` it and write the result to ``out_path`` atomically.

    The output has the input's rate, channels and length, and its sample type (``subtype`` overrides it);
    the same inputs, options and seed give the same bytes. An existing ``out_path`` is refused unless
    ``force``, and the output's name and subtype are checked before any work.
    """
    io.check_writable(Path(out_path), force=force)
    watch = Stopwatch()
    with watch("load"):
        audio = io.read_native(in_path, mapped=True)  # pasted into in place: only the region's pages are copied
    io.output_subtype(audio, out_path, subtype)
    result = edit_audio(
        audio, codec=codec, prior=prior, region=region, options=options, resynthesize=resynthesize,
        feather=feather, match_level=match_level, in_place=True, stopwatch=watch,
    )  # fmt: skip
    with watch("save"):
        io.write_native(out_path, result.audio, subtype=subtype, force=force)
    return result

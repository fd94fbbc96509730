"""The "blur" edit: redraw a time-frequency region of a sound's code grid from its surroundings.

``blur`` encodes a waveform, maps the region to cells of one level, lets a prior resample those cells given
every cell outside them (Gibbs sweeps for Naive Bayes, iterative unmasking for the Transformer), and decodes.
Codes outside the region are never changed; the same seed gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spectrolab.codec import Codec, CodeGrids
from spectrolab.edit.region import CellRegion, Region, cells_to_region, region_to_cells
from spectrolab.errors import ConfigError, ModelError
from spectrolab.priors.api import check_prior_codec
from spectrolab.priors.base import Conditioning, Prior
from spectrolab.sampling import DEFAULT_GUIDANCE, DEFAULT_STEPS


@dataclass(frozen=True)
class BlurResult:
    """An edit and its outcome.

    Attributes:
        original: codes of the input sound.
        edited: the same codes with the region of level ``level`` resampled.
        level: index of the edited level (0 = bottom).
        cells: the edited rectangle of cells of that level.
        region: the exact seconds and Hz those cells span.
        wave: decoded edited audio (1, T) at ``sample_rate``.
        sample_rate: sample rate of ``wave``.
    """

    original: CodeGrids
    edited: CodeGrids
    level: int
    cells: CellRegion
    region: Region
    wave: torch.Tensor
    sample_rate: int

    @property
    def changed_cells(self) -> int:
        """How many cells of the region hold a different code after the edit."""
        return int((self.original.grids[self.level] != self.edited.grids[self.level]).sum())


def cells_of(grids: CodeGrids, region: Region | CellRegion, *, level: int = 0) -> CellRegion:
    """The cells of level ``level`` a region covers; raises :class:`ConfigError` if it is outside the sound."""
    if not 0 <= level < len(grids.levels):
        raise ConfigError(f"level {level} does not exist; these codes have levels 0-{len(grids.levels) - 1}")
    grid = grids.levels[level]
    height, width = grid.shape
    if isinstance(region, CellRegion):
        return region.check_fits(height, width)
    return region_to_cells(
        region,
        seconds_per_cell=grid.seconds_per_cell,
        row_edges_hz=grid.row_edges_hz,
        width=width,
        duration=grids.duration,
    )


def check_prior(prior: Prior, grids: CodeGrids, level: int, *, allow_codec_mismatch: bool = False) -> None:
    """Raise :class:`ModelError` unless ``prior`` models grids of this level's height and codebook and was fitted
    on the codes of the codec that made ``grids`` (with ``allow_codec_mismatch``, a warning instead)."""
    size = grids.levels[level].codebook_size
    height = grids.levels[level].shape[0]
    prior_height = getattr(prior, "height", height)
    if prior.codebook_size != size or prior_height != height:
        raise ModelError(
            f"the prior models {prior_height}-row grids of {prior.codebook_size} codes but level {level} of these "
            f"codes has {height} rows of {size} codes; use a prior fitted on this codec's codes"
        )
    check_prior_codec(prior, grids, allow_mismatch=allow_codec_mismatch)


@dataclass(frozen=True)
class BlurOptions:
    """How to resample: which level, sampling temperature (``None``: the prior's ``default_temperature``),
    sweeps/unmasking steps, seed, target labels, how hard the labels steer (``guidance``, classifier-free
    guidance: 0 ignores them, 1 is the plain conditional; see :mod:`spectrolab.priors.base`), and whether to go
    ahead (with a warning) when the prior was fitted on another codec's codes."""

    level: int = 0
    temperature: float | None = None
    steps: int = DEFAULT_STEPS
    seed: int = 0
    conditioning: Conditioning | None = None
    guidance: float = DEFAULT_GUIDANCE
    allow_codec_mismatch: bool = False


DEFAULT_OPTIONS = BlurOptions()


def resample_cells(
    codes: torch.Tensor, cells: CellRegion, *, prior: Prior, options: BlurOptions = DEFAULT_OPTIONS
) -> torch.Tensor:
    """Codes (B, H, W) with the rectangle ``cells`` redrawn by ``prior`` given all other cells, with the
    temperature, steps, seed, target labels and guidance of ``options`` (same seed, same codes)."""
    if codes.dim() != 3:
        raise ConfigError(f"codes must be (B, H, W), got shape {tuple(codes.shape)}")
    region = cells.mask(codes.shape[1], codes.shape[2]).to(codes.device)
    generator = torch.Generator(device=codes.device).manual_seed(options.seed)
    return prior.sample(
        codes,
        region,
        temperature=prior.default_temperature if options.temperature is None else options.temperature,
        steps=options.steps,
        generator=generator,
        conditioning=options.conditioning,
        guidance=options.guidance,
    )


def blur(
    wave: torch.Tensor,
    *,
    codec: Codec,
    prior: Prior,
    region: Region | CellRegion,
    options: BlurOptions = BlurOptions(),
) -> BlurResult:
    """Encode ``wave`` (1, T) or (T,) at the codec's rate, resample ``region`` of one level, decode."""
    level = options.level
    with torch.inference_mode():
        original = codec.encode(wave)
        cells = cells_of(original, region, level=level)
        check_prior(prior, original, level, allow_codec_mismatch=options.allow_codec_mismatch)
        codes = resample_cells(original.grids[level], cells, prior=prior, options=options)
        edited = original.with_level(level, codes)
        out = codec.decode(edited)
    grid = original.levels[level]
    span = cells_to_region(cells, seconds_per_cell=grid.seconds_per_cell, row_edges_hz=grid.row_edges_hz)
    return BlurResult(original, edited, level, cells, span, out, codec.sample_rate)
